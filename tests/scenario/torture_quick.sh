#!/bin/bash
# torture_quick: the bounded subset of the torture suite (tests/torture/run.sh
# --quick; under a minute): threads, forks, spawn, daemons, dlopen loops,
# signals, exit paths, output failures, odd programs (SIGKILL: make torture).
exec bash "$(dirname "$0")/../torture/run.sh" --quick
