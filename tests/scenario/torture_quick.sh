#!/bin/bash
# torture_quick: the bounded subset of the torture suite (tests/torture/run.sh
# --quick; under a minute): threads, forks, spawn, daemons, dlopen loops,
# signals, exit paths, SIGKILL x15, output failures, odd programs.
exec bash "$(dirname "$0")/../torture/run.sh" --quick
