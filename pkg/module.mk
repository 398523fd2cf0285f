# pkg/: `make deb` builds build-deb/leakhunt_VERSION_ARCH.deb from a staged
# `make install PREFIX=/usr`, compiled in its own tree (build-deb/) with
# Debian's hardening flags (dpkg-buildflags), and checks it with lintian.

PKG_PACKAGES := dpkg-dev lintian $(DOC_PACKAGES)

deb: build-deps
	@./tests/ensure-packages.sh $(PKG_PACKAGES)
	+@./pkg/build-deb.sh build-deb
