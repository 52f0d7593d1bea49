"""The child side of the harness for Python systems (the twin of runner.ts).

A system file defines ``async def work(size, params) -> int`` and calls ``bench(work)``. The harness runs it in a
fresh process (``python3 <file> <json args>``, with this directory on PYTHONPATH); it times only the work and prints
one line ``@@bench {"ms", "maxRssKb", "baseRssKb", "check"}``.
"""
import asyncio
import json
import resource
import sys
import time

MARKER = "@@bench "


def _rss_kb() -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def bench(work) -> None:
    args = json.loads(sys.argv[1])
    size = int(args["size"])
    params = args.get("params", {})
    base = _rss_kb()
    start = time.perf_counter()
    check = asyncio.run(work(size, params))
    ms = (time.perf_counter() - start) * 1000
    max_rss_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # kilobytes on Linux
    print(MARKER + json.dumps({"ms": ms, "maxRssKb": max_rss_kb, "baseRssKb": base, "check": check}), flush=True)


def sum_in_order(results) -> int:
    """Checks that results[i] == i (results in input order) and returns their sum."""
    total = 0
    for i, value in enumerate(results):
        if value != i:
            raise AssertionError(f"result {i} is {value}: results are not in input order")
        total += i
    return total
