#!/usr/bin/python3
"""py-cache - a Python service that leaks through a global cache dict.

    python3 samples/py-cache/cache.py     (commands on stdin, one per line)

render(user_id) memoizes its result in the module-level _RENDERED dict,
keyed by (user_id, request_id): the request id makes every key new, so the
cache only grows. It first prints "py-cache: pid PID". Commands:

    serve N   handle N more requests (new keys), then answer
              "served N: cache E entries, +B bytes"
              where B is what this command added to the cache by
              sys.getsizeof accounting (keys, their tuples' items, values,
              and the dict's own table)
    quit      exit (the interpreter frees the cache as it shuts down)
    abort     exit at once with os._exit(0), the cache still allocated, as
              a service that is killed would

Each answer is printed once the command is done, so a test can drop a
leakhunt marker (leakhunt-mark PID LABEL) between commands while the script
waits for the next one.
"""
import os
import sys

_RENDERED = {}  # LEAK: every (user, request) pair ever rendered, never evicted
_next_request = 0


def render(user_id, request_id):
    key = (user_id, request_id)
    page = _RENDERED.get(key)
    if page is None:
        page = ("<div class='user'>user %d, request %d</div>" % (user_id, request_id)) * 4
        _RENDERED[key] = page
    return page


def footprint(key, page):
    size = sys.getsizeof(key) + sys.getsizeof(page)
    # Small ints (-5..256) are shared; larger ones are new objects.
    size += sum(sys.getsizeof(x) for x in key if not -5 <= x <= 256)
    return size


def serve(n):
    global _next_request
    added = 0
    table_before = sys.getsizeof(_RENDERED)
    for _ in range(n):
        request_id = _next_request
        _next_request += 1
        key = (request_id % 100, request_id)
        fresh = key not in _RENDERED
        page = render(*key)
        if fresh:
            added += footprint(key, page)
    return added + sys.getsizeof(_RENDERED) - table_before


def main():
    print("py-cache: pid %d" % os.getpid(), flush=True)
    for line in sys.stdin:
        words = line.split()
        if not words:
            continue
        if words[0] == "serve" and len(words) == 2:
            n = int(words[1])
            added = serve(n)
            print("served %d: cache %d entries, +%d bytes" % (n, len(_RENDERED), added), flush=True)
        elif words[0] == "quit":
            break
        elif words[0] == "abort":
            os._exit(0)
        else:
            print("unknown command: %s" % line.strip(), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
