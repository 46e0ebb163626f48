"""Keep freed heap memory for reuse instead of handing it back to the kernel after every block.

glibc serves allocations above its mmap threshold (128 KiB at first) with fresh mappings and
trims the top of the heap when more than its trim threshold lies free there, so a process that
allocates and frees arrays of a few hundred KiB to a few MiB per audio block touches fresh pages
for every block: page faults and system CPU that do no work (docs/speed.md has the figures).
`reuse_freed_memory()` raises both thresholds for the device commands. Memory in use does not
change; at most `TRIM_THRESHOLD_BYTES` of freed memory stays mapped.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import sys

M_TRIM_THRESHOLD = -1  # mallopt parameters of glibc's <malloc.h>
M_MMAP_THRESHOLD = -3
MMAP_THRESHOLD_BYTES = 4 << 20  # arrays up to this size come from the heap and are reused
TRIM_THRESHOLD_BYTES = 16 << 20  # free memory kept at the top of the heap before it is trimmed


def reuse_freed_memory() -> bool:
    """Set glibc's mmap and trim thresholds (see the module docstring); False where the C library
    is not glibc (macOS, musl) or refuses, in which case nothing changes."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes, mallopt.restype = (ctypes.c_int, ctypes.c_int), ctypes.c_int
    return bool(mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD_BYTES)) and bool(
        mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD_BYTES)
    )
