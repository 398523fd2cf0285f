"""Allocation-heavy CPython workload for `make bench` (run with PYTHONMALLOC=malloc).

Builds and drops dicts, lists and strings the way a request handler does.
"""
import sys


def handle(i):
    record = {"id": i, "name": "user-%d" % i, "tags": [str(i % 7), str(i % 11)]}
    payload = ",".join("%s=%s" % (k, v) for k, v in record.items())
    return len(payload) + len(record["tags"])


def main():
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 60000
    cache = {}
    total = 0
    for i in range(n):
        total += handle(i)
        cache[i % 512] = [i] * (i % 13)
    print("alloc_heavy:", total, len(cache))


main()
