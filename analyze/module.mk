# analyze/: the replay engine, symbolizer, exporters and leakhunt-replay.
# The exporters (flame tree, folded, SVG, pprof, speedscope, HTML) build
# into their own archive from analyze/flame.mk.
-include analyze/flame.mk
