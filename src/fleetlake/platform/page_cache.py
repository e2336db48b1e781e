"""Page-cache hints for files read or written once, so that they do not push the serving
database's pages out of memory. Hints only (Linux `posix_fadvise`): never an error."""

from __future__ import annotations

import contextlib
import os
from typing import Any


def _advise(handle: Any, advice: str, length: int) -> None:
    if hasattr(os, "posix_fadvise") and hasattr(os, advice):
        with contextlib.suppress(OSError, ValueError):
            os.posix_fadvise(handle.fileno(), 0, length, getattr(os, advice))


def read_sequentially(handle: Any) -> None:
    """A larger read-ahead for a file read from start to end."""
    _advise(handle, "POSIX_FADV_SEQUENTIAL", 0)


def drop_cached(handle: Any, length: int) -> None:
    """Drop the first `length` bytes from the page cache; on Linux, dirty pages among them
    start their write-back now (asynchronously) instead of in one burst later."""
    if length > 0:
        _advise(handle, "POSIX_FADV_DONTNEED", length)
