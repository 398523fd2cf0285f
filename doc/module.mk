# doc/: man pages (scdoc sources, doc/*.1.scd -> build/man/*.1) and the bash
# completion shared by every tool. `make man` builds the pages; `make
# install` puts them in share/man/man1 and the completion in
# share/bash-completion/completions, once per command name.

DOC_PACKAGES := scdoc
MAN_SRCS  := $(wildcard doc/*.1.scd)
MAN_PAGES := $(MAN_SRCS:doc/%.scd=$(B)/man/%)
COMPLETED_TOOLS := leakhunt-record leakhunt-replay leakhunt-mark leakhunt-dump leakhunt-top

$(B)/man/%: doc/%.scd
	@mkdir -p $(dir $@)
	scdoc < $< > $@.tmp && mv $@.tmp $@

man-deps:
	@./tests/ensure-packages.sh $(DOC_PACKAGES)
man: man-deps
	@$(MAKE) --no-print-directory $(MAN_PAGES)

.PHONY: man man-deps
