"""A child for ``qa.sandbox.run_bounded`` tests: sleeps, allocates or echoes stdin."""

from __future__ import annotations

import sys
import time

from qa.sandbox import limit_own_memory

if __name__ == "__main__":
    limit_own_memory()
    what = sys.argv[1]
    if what == "sleep":
        time.sleep(60)
    elif what == "allocate":
        hog = bytearray(1024 * 1024 * 1024)  # 1 GiB, over the bound
    sys.stdout.write(sys.stdin.read() if what == "echo" else "{}")
