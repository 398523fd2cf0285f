#!/bin/bash
# cpython_quick: the fast subset of CPython's own regression tests, natively
# and under the recorder (tests/torture/cpython_suite.sh; make torture runs
# them all): every test must have the outcome it has natively.
exec bash "$(dirname "$0")/../torture/cpython_suite.sh" --quick
