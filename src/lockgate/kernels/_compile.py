"""Numba set-up shared by every kernel module: cache location and first-compile notice.

Imported before numba itself so that ``NUMBA_CACHE_DIR`` can still be chosen:
numba caches next to the source (``__pycache__``) when that folder is writable;
when the package is installed read-only, kernels are cached under the
repository's ``.lockgate/numba-cache`` (or the user cache directory outside a
repository) instead of being recompiled in every process.

This package imports nothing from the rest of lockgate.
"""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path

log = logging.getLogger("lockgate.kernels")

_PACKAGE_DIR = Path(__file__).resolve().parent


def _writable(folder: Path) -> bool:
    target = folder if folder.exists() else folder.parent
    return os.access(target, os.W_OK)


def _fallback_cache_dir(start: Path) -> Path:
    for folder in (start, *start.parents):
        if (folder / ".git").exists() or (folder / "pipelines").is_dir():
            return folder / ".lockgate" / "numba-cache"
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "lockgate" / "numba-cache"


def cache_dir() -> Path:
    """The folder numba writes this package's compiled kernels to."""
    if os.environ.get("NUMBA_CACHE_DIR"):
        return Path(os.environ["NUMBA_CACHE_DIR"])
    return _PACKAGE_DIR / "__pycache__"


def _choose_cache_dir() -> None:
    if os.environ.get("NUMBA_CACHE_DIR"):
        return
    if _writable(_PACKAGE_DIR / "__pycache__"):
        return
    folder = _fallback_cache_dir(Path.cwd())
    folder.mkdir(parents=True, exist_ok=True)
    os.environ["NUMBA_CACHE_DIR"] = str(folder)
    # numba reads the variable when it is first imported; if the user imported
    # it before us, its config must be told directly (cache locators read it late).
    if "numba" in sys.modules:
        sys.modules["numba"].config.CACHE_DIR = str(folder)


_choose_cache_dir()

import numba  # noqa: E402  (must follow the cache-dir choice above)

_announced = False
_checked: set[str] = set()


def announce_compile(module_file: str) -> None:
    """Say once, before the first call compiles, that compiling is what takes time.

    Numba names its cache index ``<module>.<function>-<line>.py<ver>.nbi`` and
    discards an index older than the module's source (an upgrade, an edit);
    if no index for ``module_file`` is at least as new as the source, this
    process is about to compile. Each kernel module is checked once per
    process (a directory scan is too slow to repeat on every call) and the
    notice is logged at most once.
    """
    global _announced
    if _announced or module_file in _checked:  # a set lookup: kernels call this on every use
        return
    _checked.add(module_file)
    if not _fresh_index_exists(Path(module_file)):
        _announced = True
        log.warning("compiling lockgate's statistics kernels (first use on this machine)...")


def _fresh_index_exists(module_file: Path) -> bool:
    try:
        source_time = module_file.stat().st_mtime
    except OSError:
        source_time = 0.0
    for index in cache_dir().glob(f"**/{module_file.stem}.*.nbi"):
        try:
            if index.stat().st_mtime >= source_time:
                return True
        except OSError:  # removed while we looked
            continue
    return False


def njit(*args, **kwargs):
    """``numba.njit`` with ``cache=True`` (and ``fastmath`` off: results must match SciPy)."""
    kwargs.setdefault("cache", True)
    return numba.njit(*args, **kwargs)


prange = numba.prange
