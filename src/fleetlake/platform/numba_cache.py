"""numba's compiled functions cached under fleetlake's home, so their compilation (a minute
or more for stumpy's) is paid once per machine, not once per process. Call `prepare` before
the first import of numba or stumpy."""

from __future__ import annotations

import os
from pathlib import Path


def prepare(home: Path | None = None) -> Path:
    """Point numba's cache at `<home>/cache/numba` unless NUMBA_CACHE_DIR is set; the folder."""
    if "NUMBA_CACHE_DIR" not in os.environ:
        if home is None:
            from fleetlake.settings import get_settings

            home = get_settings().home_dir
        folder = home / "cache" / "numba"
        folder.mkdir(parents=True, exist_ok=True)
        os.environ["NUMBA_CACHE_DIR"] = str(folder)
    return Path(os.environ["NUMBA_CACHE_DIR"])


def stumpy_cached() -> None:
    """Import stumpy with every compiled function of it cached on disk (stumpy compiles
    without a cache: 30 s and more at each process's first matrix profile here)."""
    prepare()
    import stumpy.cache

    for module_name, name in stumpy.cache.get_njit_funcs():
        module = __import__(f"stumpy.{module_name}", fromlist=[name])
        getattr(module, name).enable_caching()
