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


@contextlib.contextmanager
def steady(workdir, keep_free_mib=1024, keep_disk_gib=20):
    """Fill the free memory with a ballast file (clean page cache once written) so that the
    benchmark's writes recycle page-cache pages as a long-running broker host does; bounded so
    that `keep_disk_gib` GiB of disk stay free. Yields {"ballast_mib", "ballast_mb_s",
    "mem_free_mib_before"}; the ballast is deleted on exit."""
    free = mem_free_mib()
    disk = shutil.disk_usage(workdir).free // MiB - keep_disk_gib * 1024
    size = max(0, min(free - keep_free_mib, disk))
    path = os.path.join(workdir, "page-cache-ballast")
    info = {"ballast_mib": size, "mem_free_mib_before": free, "ballast_mb_s": None}
    try:
        if size > 0:
            log(f"page cache: writing a {size:,} MiB ballast ({free:,} MiB free)")
            info["ballast_mb_s"] = round(write_file(path, size))
            log(f"page cache: ballast at {info['ballast_mb_s']:,} MB/s; {mem_free_mib():,} MiB "
                "free now")
        yield info
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path)
