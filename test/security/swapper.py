#!/usr/bin/env python3
"""The hostile user of the race tests: swaps entries in a loop while root passes run.

Usage: swapper.py <stop-file> <ready-file> <a> <b> [<a> <b> ...]
Each pair is exchanged atomically with renameat2(RENAME_EXCHANGE) (a folder with a symlink, or two folders),
over and over, until <stop-file> exists. <ready-file> is written after the first round of swaps (a
deterministic start signal for the test) and, at the end, holds the number of swaps made.
While <stop-file>.pause exists the loop holds still, and says so by creating <stop-file>.paused (so the test can
look at the trees without racing the swaps itself).
Run as the unprivileged test user: it can only swap what that user may rename.
"""
import ctypes
import os
import sys
import time

libc = ctypes.CDLL(None, use_errno=True)
AT_FDCWD = -100
RENAME_EXCHANGE = 2


def exchange(a: bytes, b: bytes) -> bool:
    if hasattr(libc, "renameat2"):
        r = libc.renameat2(AT_FDCWD, a, AT_FDCWD, b, RENAME_EXCHANGE)
    else:  # older glibc: the raw system call (x86_64: 316, aarch64: 276)
        nr = 316 if os.uname().machine == "x86_64" else 276
        r = libc.syscall(nr, AT_FDCWD, a, AT_FDCWD, b, RENAME_EXCHANGE)
    return r == 0


def main() -> None:
    stop, ready = sys.argv[1], sys.argv[2]
    paths = [p.encode() for p in sys.argv[3:]]
    pairs = list(zip(paths[0::2], paths[1::2]))
    pause, paused = stop + ".pause", stop + ".paused"
    swaps = 0
    first = True
    while not os.path.exists(stop):
        if os.path.exists(pause):
            open(paused, "w").close()
            while os.path.exists(pause) and not os.path.exists(stop):
                time.sleep(0.001)
            os.unlink(paused)
            continue
        for a, b in pairs:
            if exchange(a, b):
                swaps += 1
        if first:
            with open(ready, "w") as f:
                f.write("0")
            first = False
    with open(ready, "w") as f:
        f.write(str(swaps))


main()
