"""Compiled kernels are cached on disk: a new process loads them instead of compiling.

Checked without timing: numba's cache index files appear, the second process
reports cache hits and no misses and writes no new object files, and the
first-use notice shows only when there is nothing cached yet. Also: importing
lockgate does not import numba.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from lockgate.kernels import _compile

NOTICE = "compiling lockgate's statistics kernels (first use on this machine)..."

# Runs three kernels and prints numba's per-dispatcher cache statistics.
RUN_KERNELS = textwrap.dedent(
    """
    import json, logging
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s %(message)s")
    from lockgate.kernels import metrics as m
    m.roc_auc([0, 1, 1, 0], [0.1, 0.4, 0.35, 0.8])
    m.f1([0, 1, 1], [1, 1, 0])
    m.mae([1.0, 2.0], [1.5, 2.5])
    kernels = [m._split_by_class, m._mann_whitney_u2, m._confusion_counts, m._residual_sums]
    print(json.dumps({
        k.__name__: [sum(k.stats.cache_hits.values()), sum(k.stats.cache_misses.values())]
        for k in kernels
    }))
    """
)


def _run(code: str, cache: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ)
    if cache is not None:
        env["NUMBA_CACHE_DIR"] = str(cache)
    return subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=240, check=True
    )


def _object_files(cache: Path) -> dict[str, int]:
    return {str(p.relative_to(cache)): p.stat().st_mtime_ns for p in cache.rglob("*.nbc")}


def test_a_second_process_loads_kernels_from_the_cache(tmp_path: Path) -> None:
    cache = tmp_path / "numba-cache"
    first = _run(RUN_KERNELS, cache)
    stats = json.loads(first.stdout)
    assert all(misses > 0 and hits == 0 for hits, misses in stats.values()), stats
    assert any(cache.rglob("metrics.*.nbi")), "numba wrote no cache index"
    compiled = _object_files(cache)
    assert compiled
    assert f"WARNING lockgate.kernels {NOTICE}" in first.stderr

    second = _run(RUN_KERNELS, cache)
    stats = json.loads(second.stdout)
    assert all(hits > 0 and misses == 0 for hits, misses in stats.values()), stats
    assert _object_files(cache) == compiled  # nothing recompiled or rewritten
    assert NOTICE not in second.stderr


def test_import_lockgate_does_not_import_numba() -> None:
    code = "import sys, lockgate, lockgate.kernels; print('numba' in sys.modules)"
    assert _run(code).stdout.strip() == "False"


# ------------------------------------------------------------ first-use notice


@pytest.fixture
def fresh_notice_state(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_compile, "_announced", False)
    monkeypatch.setattr(_compile, "_checked", set())


def test_notice_is_logged_once_when_nothing_is_cached(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture, fresh_notice_state
) -> None:
    monkeypatch.setenv("NUMBA_CACHE_DIR", str(tmp_path))
    with caplog.at_level(logging.WARNING, logger="lockgate.kernels"):
        for _ in range(3):
            _compile.announce_compile("/somewhere/metrics.py")
        _compile.announce_compile("/somewhere/drift.py")
    assert [r.getMessage() for r in caplog.records] == [NOTICE]
    assert caplog.records[0].levelno == logging.WARNING


def _fake_index(cache: Path, source: Path) -> Path:
    index = cache / "work" / "src" / f"{source.stem}._split_by_class-98.py311.nbi"
    index.parent.mkdir(parents=True, exist_ok=True)
    index.write_bytes(b"")
    return index


def test_no_notice_when_the_cache_is_warm(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture, fresh_notice_state
) -> None:
    source = tmp_path / "metrics.py"
    source.write_text("")
    index = _fake_index(tmp_path / "cache", source)
    os.utime(source, (1_000_000, 1_000_000))  # the source predates its index
    monkeypatch.setenv("NUMBA_CACHE_DIR", str(tmp_path / "cache"))
    with caplog.at_level(logging.WARNING, logger="lockgate.kernels"):
        _compile.announce_compile(str(source))
    assert index.exists() and caplog.records == []


def test_notice_when_the_source_is_newer_than_its_cache(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture, fresh_notice_state
) -> None:
    """After an upgrade numba recompiles, stale index files or not; so we say so."""
    source = tmp_path / "metrics.py"
    source.write_text("")
    index = _fake_index(tmp_path / "cache", source)
    os.utime(index, (1_000_000, 1_000_000))
    monkeypatch.setenv("NUMBA_CACHE_DIR", str(tmp_path / "cache"))
    with caplog.at_level(logging.WARNING, logger="lockgate.kernels"):
        _compile.announce_compile(str(source))
    assert [r.getMessage() for r in caplog.records] == [NOTICE]


# ------------------------------------------------------------ cache location


def test_fallback_cache_is_inside_the_repository(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    (repo / ".git").mkdir(parents=True)
    (repo / "deep" / "er").mkdir(parents=True)
    assert _compile._fallback_cache_dir(repo / "deep" / "er") == repo / ".lockgate" / "numba-cache"


def test_fallback_cache_outside_a_repository_is_the_user_cache(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    lonely = tmp_path / "lonely"
    lonely.mkdir()
    expected = tmp_path / "xdg" / "lockgate" / "numba-cache"
    assert _compile._fallback_cache_dir(lonely) == expected


def test_read_only_package_caches_under_the_repository(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import numba

    (tmp_path / ".git").mkdir()
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("NUMBA_CACHE_DIR", raising=False)
    monkeypatch.setattr(_compile, "_writable", lambda folder: False)
    monkeypatch.setattr(numba.config, "CACHE_DIR", numba.config.CACHE_DIR)  # restored afterwards
    _compile._choose_cache_dir()
    expected = tmp_path / ".lockgate" / "numba-cache"
    assert os.environ["NUMBA_CACHE_DIR"] == str(expected) == numba.config.CACHE_DIR
    assert expected.is_dir()
    assert _compile.cache_dir() == expected
