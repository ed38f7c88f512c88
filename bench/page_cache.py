"""The page cache's part in write benchmarks on this VM (issue #24, target 3).

This machine is a VM whose balloon device reports free pages back to the host
(virtio-balloon free page reporting). A page the guest freed some seconds ago costs a host fault
the next time it is written: a file written into such pages goes at ~450 MB/s, while the same
write into pages just freed (or recycled from the page cache) goes at ~4 GB/s. A broker that
appends 100 B records pays it on every new page-cache page, so a run that happens to start with
gigabytes of free memory is slower, and a replicated run on one machine pays it once per copy.
A broker host in steady state has its memory full of page cache and recycles it; `steady` puts the
machine in that state for the length of a scenario (a ballast file that fills the free memory,
deleted at the end), and `baselines` measures both write speeds in the same run.
"""

import contextlib
import os
import shutil
import time

from compare import log

MiB = 1 << 20
BLOCK = b"\0" * MiB


def mem_free_mib():
    """MemFree of /proc/meminfo in MiB."""
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith("MemFree:"):
                return int(line.split()[1]) // 1024
    raise RuntimeError("no MemFree in /proc/meminfo")


def write_file(path, mib):
    """Write `mib` MiB of zeroes to a new file, fdatasync it; returns MB/s (10^6 bytes)."""
    t0 = time.monotonic()
    with open(path, "wb") as f:
        for _ in range(mib):
            f.write(BLOCK)
        f.flush()
        os.fdatasync(f.fileno())
    return mib * MiB / 1e6 / (time.monotonic() - t0)


def baselines(workdir, mib=1024):
    """Page-cache write speed into free pages (as the machine has them now) and into pages freed a
    moment before (recycled): {"free_pages_mb_s", "recycled_pages_mb_s"}."""
    p = os.path.join(workdir, "page-cache-baseline")
    first = write_file(p, mib)
    os.unlink(p)
    second = write_file(p, mib)
    os.unlink(p)
    return {"free_pages_mb_s": round(first), "recycled_pages_mb_s": round(second)}


class Ballast:
    """Files that fill the free memory with clean page cache (see the module's doc); `fill` tops
    them up (e.g. after a scenario deleted a topic and so freed its pages), `remove` deletes them.
    `info`: {"ballast_mib", "ballast_mb_s", "mem_free_mib_before"} of the first fill, and
    "refilled_mib", the sum of the later ones."""

    def __init__(self, workdir, keep_free_mib=1024, keep_disk_gib=20):
        self.workdir, self.keep_free, self.keep_disk = workdir, keep_free_mib, keep_disk_gib
        self.parts = []
        self.info = {"ballast_mib": 0, "mem_free_mib_before": mem_free_mib(),
                     "ballast_mb_s": None, "refilled_mib": 0}

    def fill(self):
        """Write one more part, sized to leave `keep_free_mib` MiB free and `keep_disk_gib` GiB
        of disk; returns the MiB written."""
        free = mem_free_mib()
        disk = shutil.disk_usage(self.workdir).free // MiB - self.keep_disk * 1024
        size = max(0, min(free - self.keep_free, disk))
        if size == 0:
            return 0
        path = os.path.join(self.workdir, f"page-cache-ballast-{len(self.parts)}")
        self.parts.append(path)
        log(f"page cache: writing a {size:,} MiB ballast ({free:,} MiB free)")
        rate = round(write_file(path, size))
        log(f"page cache: ballast at {rate:,} MB/s; {mem_free_mib():,} MiB free now")
        if len(self.parts) == 1:
            self.info.update(ballast_mib=size, ballast_mb_s=rate)
        else:
            self.info["refilled_mib"] += size
        return size

    def remove(self):
        for path in self.parts:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(path)
        self.parts = []


@contextlib.contextmanager
def steady(workdir, keep_free_mib=1024, keep_disk_gib=20):
    """Fill the free memory with a ballast (`Ballast`) so that the benchmark's writes recycle
    page-cache pages as a long-running broker host does; yields the `Ballast` (call `fill` again
    after freeing page cache, e.g. deleting a topic); deleted on exit."""
    ballast = Ballast(workdir, keep_free_mib, keep_disk_gib)
    try:
        ballast.fill()
        yield ballast
    finally:
        ballast.remove()
