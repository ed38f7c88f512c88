#!/usr/bin/env python3
"""Fold `perf script` output (call graphs) into the "a;b;c count" lines flame-graph tools read.

Usage: perf script -i perf.data | python3 bench/fold_perf.py > out.folded
Inlined frames are kept (they carry most of the Rust names); addresses, offsets and DSOs dropped.
"""
import re
import sys
from collections import Counter

FRAME = re.compile(r"^\s+[0-9a-f]+\s+(.+?)\s+\((.*)\)\s*$")


def main():
    counts = Counter()
    comm, stack = None, []

    def flush():
        if comm is not None and stack:
            counts[";".join([comm] + stack[::-1])] += 1

    for line in sys.stdin:
        if not line.strip():
            flush()
            comm, stack = None, []
        elif not line[0].isspace():
            comm = line.split()[0]
        else:
            m = FRAME.match(line)
            if m:
                name = re.sub(r"\+0x[0-9a-f]+$", "", m.group(1))
                stack.append(name.replace(";", ":"))
    flush()
    for k, v in sorted(counts.items()):
        print(k, v)


if __name__ == "__main__":
    main()
