"""Adversarial campaign against the real lockgate CLI: hostile specs, random SIGKILLs,
path/symlink/trust attacks and hostile gate expressions. A runnable campaign, not a test.

    python benchmarks/adversarial.py                  # full campaign (~12-15 min on 2 cores)
    python benchmarks/adversarial.py --quick          # 4 kills, a sample of the rest (~2-3 min)
    python benchmarks/adversarial.py --snapshot HEAD --seed 1234 --json out.json --only specs,kills

Everything happens in one temporary folder (``--workdir``, default a new
``lockgate-adversarial-*`` under the system temp dir): every repository, victim,
remote and canary lives there, and nothing outside it is touched. Each lockgate
is a ``python -m lockgate ...`` subprocess in its own session with a timeout; on
a timeout its whole process group is killed. Every process the campaign starts
carries ``LOCKGATE_ADVERSARIAL=<token>`` in its environment, which is how stage
processes are found (``/proc/*/environ``) and, at the end, how leftovers are
killed (only ours, by pid).

1. Hostile specs (``specs``). ~200 generated specs, each with a short label:
   alias bombs, recursive/undefined aliases, deep nesting, huge integers, tags in
   every position, non-UTF-8 bytes, BOMs, files just over 10 MiB, YAML 1.1 keys,
   dates, duplicate and unknown keys, wrong types, empty documents, cycles,
   matrices over the cap, huge expressions and forbidden constructs, bad ``-p``
   overrides, path escapes and over-long names. Each gets ``lockgate validate``
   (about 30 also ``lockgate run --json``). **Clean** = exit 2; no "Traceback";
   every stderr line is ``FILE:LINE:COL: message``, or ``FILE: message`` naming a
   file of the repository (a whole-file problem: empty, too large, a ``-p``
   override), or the ``N problems; nothing was run`` summary, or the output is a
   single ``error: ...`` line; no line over 2,000 characters; nothing in the
   repository outside ``.lockgate/`` created, changed or removed (no lock file,
   no output) and nothing beside it; done within 5 s.
2. Random SIGKILLs (``kills``). A deterministic 7-stage pipeline: a ``cmd``
   stage writing a folder of 6 x 1 MiB files, a ``cmd`` stage that starts two
   background grandchildren (one it waits for, which sleeps then writes into the
   output; one it does not wait for, which would write ``stray_marker.txt``
   after 5 s), a ``call`` stage returning a 3M-row table, a ``call`` stage
   returning metrics from it, the builtin ``split`` on it (two more tables), a
   ``call`` on the split, and a ``cmd`` stage with a ``metrics:`` file. A
   reference cold run is done once. Then, per kill: a fresh cold copy, ``lockgate
   run``, SIGKILL of the lockgate process only (not its group) after a seeded
   random delay in [0, T] (T = the reference's cold wall time). Checked: within
   5 s no process carrying this run's token and ``LOCKGATE_STAGE`` is alive;
   ``lockgate verify --all --json`` reports no corrupt and no missing object;
   the lock file (if any) parses; ``stray_marker.txt`` never appears; a normal
   ``lockgate run`` exits 0 and every output (lock records: digest and object
   key; metrics; every workspace file under ``out/``) equals the reference's;
   ``lockgate verify`` exits 0; ``.lockgate/procs`` is empty. Where the kill
   landed is read from ``.lockgate/logs`` (started) and the run-cache (finished,
   by the reference fingerprints). A delay that fell after the run ended is not
   counted as a kill; the campaign draws until enough kills landed.
3. Path, symlink and trust attacks (``attacks``). Each attack has its own
   repository and a victim folder beside it (known files holding a secret
   marker, an empty file, a subfolder). After every lockgate command the victim
   must be byte-identical (same files, links, modes and hashes), no object in the
   repository's cache, a clone's cache or the remote may hold the secret, and
   nothing may appear beside the repository. A verdict per attack: ``safe`` or
   ``UNSAFE`` (with what was written, deleted or cached), plus what lockgate did.
4. Hostile gate expressions (``gates``). Each of ~100 expressions is put in a real
   pipeline (as a gate; every other one also as ``when:``) after two cached producer stages
   (a metrics artifact ``m`` and a JSON artifact ``j``), and run with ``lockgate
   run --json``. **Clean** = exit 2 with clean lines as in 1, or exit 1 with the
   gated stage ``failed`` and a one-line message naming a key the expression
   reads; never a traceback; never the canary (every code-running expression
   would create a file in a canary folder) and never the gated stage's output.

``--quick`` runs a fifth of the specs, a third of the attacks, a fifth of the
gate runs and 4 kills. ``--snapshot REV`` runs lockgate's ``src/`` as committed at
REV (extracted into the work folder) instead of the importable working tree, so
that a campaign measures one commit even while others edit the checkout.

Prints one table per section and a summary; ``--json FILE`` writes every case.
Exit status 0 when everything was clean/safe, 1 otherwise. The work folder is
removed at the end unless something was not clean (or ``--keep``).
"""

from __future__ import annotations

import argparse
import concurrent.futures
import contextlib
import datetime as dt
import hashlib
import json
import os
import platform
import random
import re
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

PY = sys.executable
SECRET = b"VICTIM-SECRET-7f3a9c"
ELSEWHERE_SECRET = b"ELSEWHERE-SECRET-51d0"
TOKEN_VAR = "LOCKGATE_ADVERSARIAL"
SPEC_SECONDS = 5.0
GONE_SECONDS = 5.0
MAX_LINE = 2000


# -- running things -----------------------------------------------------------------------


@dataclass
class Done:
    args: list[str]
    rc: int
    out: str
    err: str
    secs: float
    timed_out: bool = False

    def short(self, limit: int = 300) -> str:
        text = (self.err.strip() or self.out.strip()).replace("\n", " | ")
        return text if len(text) <= limit else text[:limit] + "..."


class Campaign:
    def __init__(self, root: Path, quick: bool, seed: int, jobs: int) -> None:
        self.root = root
        self.quick = quick
        self.seed = seed
        self.jobs = jobs
        self.token = f"adv-{uuid.uuid4().hex[:12]}"
        self.env = dict(os.environ)
        self.env.update({
            TOKEN_VAR: self.token,
            "PYTHONDONTWRITEBYTECODE": "1",  # nothing written beside the installed code
            "NUMBA_CACHE_DIR": str(root / ".numba"),
            "XDG_CACHE_HOME": str(root / ".xdg-cache"),
            "MPLCONFIGDIR": str(root / ".mpl"),
            "GIT_AUTHOR_NAME": "Adversary", "GIT_AUTHOR_EMAIL": "adv@example.com",
            "GIT_COMMITTER_NAME": "Adversary", "GIT_COMMITTER_EMAIL": "adv@example.com",
            "GIT_CONFIG_NOSYSTEM": "1", "GIT_CONFIG_GLOBAL": os.devnull,
            "COLUMNS": "200",
        })
        for name in ("GITHUB_STEP_SUMMARY", "PYTHONPATH"):
            self.env.pop(name, None)
        self.template = root / "template"
        make_repo(self.template, self.env)

    def lg(self, cwd: Path, *args: str, timeout: float = 60, env: dict | None = None) -> Done:
        return run_proc([PY, "-m", "lockgate", *args], cwd, env or self.env, timeout)

    def git(self, cwd: Path, *args: str) -> Done:
        done = run_proc(["git", *args], cwd, self.env, 60)
        if done.rc != 0:
            raise RuntimeError(f"git {' '.join(args)} failed in {cwd}: {done.err}")
        return done

    def new_repo(self, path: Path) -> Path:
        shutil.copytree(self.template, path, symlinks=True)
        return path


def run_proc(argv: list[str], cwd: Path, env: dict, timeout: float) -> Done:
    started = time.monotonic()
    proc = subprocess.Popen(argv, cwd=cwd, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, start_new_session=True)
    timed_out = False
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        timed_out = True
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGKILL)
        out, err = proc.communicate()
    secs = time.monotonic() - started
    return Done([str(a) for a in argv[3:]] if argv[:3] == [PY, "-m", "lockgate"] else [str(a) for a in argv],
                proc.returncode, out.decode("utf-8", "replace"), err.decode("utf-8", "replace"), secs, timed_out)


def make_repo(path: Path, env: dict) -> Path:
    path.mkdir(parents=True)
    subprocess.run(["git", "init", "-q", "-b", "main"], cwd=path, env=env, check=True, timeout=30,
                   capture_output=True)
    (path / "pipelines").mkdir()
    return path


def write(root: Path, rel: str, content: str | bytes) -> Path:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")
    return path


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def snapshot(folder: Path, skip_top: tuple[str, ...] = ()) -> dict[str, tuple]:
    """Every entry under ``folder`` (never following links): files by mode and hash,
    links by target text, folders by mode, anything else by its type."""
    found: dict[str, tuple] = {}
    if not os.path.lexists(folder):
        return found
    for here, dirs, files in os.walk(folder, followlinks=False):
        rel_here = os.path.relpath(here, folder)
        if rel_here == ".":
            dirs[:] = [d for d in dirs if d not in skip_top]
            files = [f for f in files if f not in skip_top]
        for name in dirs + files:
            path = os.path.join(here, name)
            rel = os.path.normpath(os.path.join(rel_here, name))
            st = os.lstat(path)
            if stat.S_ISLNK(st.st_mode):
                found[rel] = ("link", os.readlink(path))
            elif stat.S_ISDIR(st.st_mode):
                found[rel] = ("dir", stat.S_IMODE(st.st_mode))
            elif stat.S_ISREG(st.st_mode):
                with open(path, "rb") as handle:
                    found[rel] = ("file", stat.S_IMODE(st.st_mode), sha(handle.read()))
            else:
                found[rel] = ("other", stat.S_IFMT(st.st_mode))
    return found


def snapshot_diff(before: dict, after: dict, limit: int = 6) -> str:
    parts = []
    for rel in sorted(set(before) | set(after)):
        if rel not in after:
            parts.append(f"removed {rel}")
        elif rel not in before:
            parts.append(f"created {rel}")
        elif before[rel] != after[rel]:
            parts.append(f"changed {rel}")
    shown = parts[:limit] + ([f"(+{len(parts) - limit} more)"] if len(parts) > limit else [])
    return ", ".join(shown)


def files_holding(folder: Path, needle: bytes) -> list[str]:
    hits = []
    if not folder.exists():
        return hits
    for here, _, files in os.walk(folder, followlinks=False):
        for name in files:
            path = Path(here) / name
            if path.is_symlink() or not path.is_file():
                continue
            with contextlib.suppress(OSError):
                if needle in path.read_bytes():
                    hits.append(str(path.relative_to(folder)))
    return hits


def proc_state(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(") ", 1)[1].split()[0]
    except (OSError, IndexError):
        return ""


def processes_with(token: str, stage_only: bool = True) -> list[tuple[int, str]]:
    """Live (not zombie) processes whose environment holds TOKEN_VAR=token (and
    LOCKGATE_STAGE=... with ``stage_only``): (pid, command line)."""
    needle = f"{TOKEN_VAR}={token}".encode()
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == os.getpid():
            continue
        try:
            environ = Path(f"/proc/{entry}/environ").read_bytes().split(b"\0")
        except OSError:
            continue
        if needle not in environ:
            continue
        if stage_only and not any(v.startswith(b"LOCKGATE_STAGE=") for v in environ):
            continue
        if proc_state(int(entry)) in ("", "Z", "X"):
            continue
        try:
            cmd = Path(f"/proc/{entry}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            cmd = "?"
        found.append((int(entry), cmd.strip()[:120]))
    return found


def kill_ours(token_prefix: str) -> int:
    """SIGKILL, by pid, every live process carrying one of this campaign's tokens."""
    killed = 0
    needle = f"{TOKEN_VAR}={token_prefix}".encode()
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == os.getpid():
            continue
        try:
            environ = Path(f"/proc/{entry}/environ").read_bytes().split(b"\0")
        except OSError:
            continue
        if any(v.startswith(needle) for v in environ) and proc_state(int(entry)) not in ("", "Z", "X"):
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(int(entry), signal.SIGKILL)
                killed += 1
    return killed


# -- what a clean error looks like ------------------------------------------------------------

LOCATED = re.compile(r"^(.+?):(\d+):(\d+): \S")
FILE_LEVEL = re.compile(r"^(.+?): \S")
SUMMARY = re.compile(r"^\d+ problems?; nothing was run$")
ERROR_LINE = re.compile(r"^error: \S")


def error_lines_problems(err: str, repo: Path) -> tuple[list[str], dict[str, int]]:
    """Why ``err`` is not a clean spec error (an empty list when it is), and the count
    of each line form."""
    problems: list[str] = []
    forms = {"located": 0, "file": 0, "summary": 0, "error": 0}
    lines = [line for line in err.rstrip("\n").split("\n")] if err.strip() else []
    if not lines:
        return ["nothing on stderr"], forms
    if len(lines) == 1 and ERROR_LINE.match(lines[0]):
        forms["error"] = 1
        return ([f"a line of {len(lines[0]):,} characters"] if len(lines[0]) > MAX_LINE else []), forms
    for line in lines:
        if len(line) > MAX_LINE:
            problems.append(f"a line of {len(line):,} characters")
            continue
        m = LOCATED.match(line)
        if m and os.path.lexists(repo / m.group(1)):
            forms["located"] += 1
            continue
        if SUMMARY.match(line):
            forms["summary"] += 1
            continue
        m = FILE_LEVEL.match(line)
        if m and os.path.lexists(repo / m.group(1)) and m.group(1).strip():
            forms["file"] += 1
            continue
        problems.append(f"unlocated line: {line[:160]!r}")
    return problems, forms


def clean_exit2(done: Done, repo: Path) -> tuple[list[str], dict[str, int]]:
    problems: list[str] = []
    if done.timed_out:
        problems.append(f"timed out after {done.secs:.0f} s (killed)")
    if done.rc != 2:
        problems.append(f"exit {done.rc}")
    if "Traceback" in done.err or "Traceback" in done.out:
        problems.append("traceback")
    lines, forms = error_lines_problems(done.err, repo)
    return problems + lines, forms


# ============================================================================================
# 1. hostile specs
# ============================================================================================


@dataclass
class SpecCase:
    label: str
    group: str
    files: dict[str, str | bytes]
    args: tuple[str, ...] = ()
    run: bool = False
    setup: Callable[[Path], None] | None = None


S_OK = "version: 1\nstages:\n  a: {cmd: 'echo hi > o.txt', outs: [o.txt]}\n"


def _bomb(levels: int, width: int = 9, where: str = "top", kind: str = "list") -> str:
    head = "version: 1\nstages:\n  a: {cmd: 'echo hi > o.txt', outs: [o.txt]}\n"
    indent = "" if where == "top" else "  "
    if where == "params":
        head += "params:\n"
    lines = [f"{indent}x0: &a0 [" + ", ".join(["lol"] * width) + "]"]
    for i in range(1, levels + 1):
        if kind == "list":
            body = "[" + ", ".join([f"*a{i - 1}"] * width) + "]"
        else:
            body = "{" + ", ".join(f"k{j}: *a{i - 1}" for j in range(width)) + "}"
        lines.append(f"{indent}x{i}: &a{i} {body}")
    return head + "\n".join(lines) + "\n"


def _stage(body: str, name: str = "a") -> str:
    return f"version: 1\nstages:\n  {name}: {body}\n"


def hostile_specs(root_hint: str) -> list[SpecCase]:
    cases: list[SpecCase] = []

    def add(group: str, label: str, text: str | bytes | None = None, *, files: dict | None = None,
            args: tuple[str, ...] = (), run: bool = False, setup=None) -> None:
        spec_files = dict(files or {})
        if text is not None:
            spec_files["pipelines/p.yaml"] = text
        cases.append(SpecCase(label, group, spec_files, args, run, setup))

    # -- aliases ------------------------------------------------------------------------
    add("alias", "billion laughs, 5 levels", _bomb(5))
    add("alias", "billion laughs, 9 levels", _bomb(9), run=True)
    add("alias", "billion laughs, 30 levels", _bomb(30))
    add("alias", "billion laughs in params, 12 levels", _bomb(12, where="params"))
    add("alias", "mapping bomb, 8 levels", _bomb(8, kind="map"))
    add("alias", "wide bomb: 2 levels x 300", _bomb(2, width=300))
    add("alias", "bomb used by a stage's with:", _bomb(7, where="params").replace(
        "  a: {cmd: 'echo hi > o.txt', outs: [o.txt]}",
        "  a: {call: 'm:f', with: {x: '${x7}'}, out: [o]}"))
    add("alias", "recursive alias (mapping)", "version: 1\nstages: &s\n  a: *s\n", run=True)
    add("alias", "recursive alias (list)", "version: 1\nparams:\n  x: &l [1, *l]\nstages:\n  a: {cmd: echo}\n")
    add("alias", "undefined alias", "version: 1\nstages:\n  a: *nope\n")
    add("alias", "alias used before its anchor", "version: 1\nstages:\n  a: *later\n  b: &later {cmd: echo}\n")
    add("alias", "alias of a mapping as a key", "version: 1\nparams:\n  x: &k {a: 1}\n  ? *k\n  : 2\nstages:\n  a: {cmd: echo}\n")
    # -- nesting and sizes ---------------------------------------------------------------
    add("nesting", "flow lists 5000 deep", S_OK + "params:\n  x: " + "[" * 5000 + "]" * 5000 + "\n", run=True)
    add("nesting", "flow mappings 3000 deep", S_OK + "params:\n  x: " + "{a: " * 3000 + "1" + "}" * 3000 + "\n")
    add("nesting", "block lists 500 deep", S_OK + "params:\n  x:\n    " + "- " * 500 + "1\n")
    block = "".join("  " * (i + 1) + f"k{i}:\n" for i in range(150)) + "  " * 151 + "1\n"
    add("nesting", "block mappings 150 deep", S_OK + "params:\n" + block)
    add("nesting", "flow lists 101 deep (1 over)", S_OK + "params:\n  x: " + "[" * 101 + "]" * 101 + "\n")
    deep = "[" * 60 + "1" + "]" * 60
    add("nesting", "nesting through aliases", S_OK + f"params:\n  x: &d {deep}\n  y: {'[' * 60}*d{']' * 60}\n")
    add("nesting", "60,000 values in one list", S_OK + "params:\n  x: [" + ", ".join(["1"] * 60_000) + "]\n")
    add("nesting", "60,000 keys in one mapping", S_OK + "params:\n  x: {" + ", ".join(f"k{i}: 1" for i in range(60_000)) + "}\n")
    # -- integers --------------------------------------------------------------------
    add("integers", "5000-digit integer", S_OK + "params:\n  n: " + "1" * 5000 + "\n")
    add("integers", "101-digit negative integer", S_OK + "params:\n  n: -" + "9" * 101 + "\n")
    add("integers", "200-digit hex integer", S_OK + "params:\n  n: 0x" + "f" * 200 + "\n")
    add("integers", "integer with 150 underscores", S_OK + "params:\n  n: " + "1_0" * 150 + "\n")
    add("integers", "YAML 1.1 octal integer of 300 digits", S_OK + "params:\n  n: 0" + "7" * 300 + "\n")
    add("integers", "50,000-digit integer as version", "version: " + "1" * 50_000 + "\nstages:\n  a: {cmd: echo}\n")
    add("integers", "huge integer as resources.cpus", _stage("{cmd: echo, resources: {cpus: " + "9" * 400 + "}}"))
    add("integers", "huge integer in a matrix axis", _stage("{cmd: 'echo ${item.x}', matrix: {x: [" + "7" * 1000 + "]}}"))
    # -- tags ------------------------------------------------------------------------
    apply = "!!python/object/apply:os.system"
    add("tags", "python/object/apply in cmd", _stage(f"{{cmd: {apply} ['echo pwned > ../pwned']}}"), run=True)
    add("tags", "python/name in a nested param", "version: 1\nparams: {x: [1, {y: !!python/name:os.system ''}]}\nstages:\n  a: {cmd: echo}\n")
    add("tags", "python/object as a key", "version: 1\nparams:\n  ? !!python/object:builtins.dict {}\n  : 1\nstages:\n  a: {cmd: echo}\n")
    add("tags", "python/object on a stage mapping", "version: 1\nstages:\n  a: !!python/object:os.system {cmd: echo}\n", run=True)
    add("tags", "python/object/new as the whole document", "--- !!python/object/new:os.system [echo pwned]\n", run=True)
    add("tags", "verbatim python tag", _stage("{cmd: !<tag:yaml.org,2002:python/object/apply:os.system> [echo]}"))
    add("tags", "%TAG shorthand for python", "%TAG !p! tag:yaml.org,2002:python/\n---\nversion: 1\nstages:\n  a: {cmd: !p!object/apply:os.system [echo]}\n")
    add("tags", "python tag in outs", _stage(f"{{cmd: echo, outs: [{apply} [x]]}}"))
    add("tags", "python tag in a matrix axis", _stage(f"{{cmd: 'echo ${{item.x}}', matrix: {{x: [{apply} [echo]]}}}}"))
    add("tags", "python tag as version", f"version: {apply} [echo]\nstages:\n  a: {{cmd: echo}}\n")
    add("tags", "python tag in with:", _stage(f"{{uses: split, in: {{table: t}}, with: {{target: {apply} [x]}}, out: [tr, te]}}"))
    add("tags", "!!binary", S_OK + "params: {x: !!binary aGVsbG8=}\n")
    add("tags", "!!set", S_OK + "params: {x: !!set {a, b}}\n")
    add("tags", "!!omap", S_OK + "params: {x: !!omap [{a: 1}]}\n")
    add("tags", "!!pairs", S_OK + "params: {x: !!pairs [{a: 1}]}\n")
    add("tags", "local !tag", S_OK + "params: {x: !foo bar}\n")
    add("tags", "explicit !!timestamp", S_OK + "params: {x: !!timestamp 2024-01-01}\n")
    # -- encodings -------------------------------------------------------------------
    add("encoding", "byte 0xff in cmd", b"version: 1\nstages:\n  a: {cmd: 'echo \xff'}\n", run=True)
    add("encoding", "latin-1 e-acute in a comment", b"version: 1\n# caf\xe9\nstages:\n  a: {cmd: echo}\n")
    add("encoding", "UTF-16 LE with BOM", "version: 1\nstages:\n  a: {cmd: echo}\n".encode("utf-16"))
    add("encoding", "UTF-32 with BOM", "version: 1\nstages:\n  a: {cmd: echo}\n".encode("utf-32"))
    add("encoding", "UTF-8 BOM then a list", b"\xef\xbb\xbf- 1\n- 2\n")
    add("encoding", "BOM inside a stage name", "version: 1\nstages:\n  a\ufeffb: {cmd: echo}\n".encode())
    add("encoding", "NUL byte", b"version: 1\nstages:\n  a: {cmd: 'echo \x00'}\n")
    add("encoding", "overlong UTF-8 (C0 AF)", b"version: 1\nstages:\n  a: {cmd: 'echo \xc0\xaf'}\n")
    add("encoding", "UTF-8 surrogate (ED A0 80)", b"version: 1\nstages:\n  a: {cmd: 'echo \xed\xa0\x80'}\n")
    add("encoding", "truncated multibyte at EOF", b"version: 1\nstages:\n  a: {cmd: echo}\n# \xe2\x82")
    # -- size ------------------------------------------------------------------------
    cap = 10 * 1024 * 1024
    head = b"version: 1\nstages:\n  a: {cmd: echo}\n#"
    add("size", "10 MiB + 1 byte of comment", head + b"x" * (cap + 1 - len(head) - 1) + b"\n")
    add("size", "one 10 MiB scalar", b"version: 1\nstages:\n  a: {cmd: echo}\nparams: {x: '" + b"y" * cap + b"'}\n")
    add("size", "params_file over 10 MiB", "version: 1\nparams_file: params.yaml\nstages:\n  a: {cmd: echo}\n",
        files={"params.yaml": b"seed: 1\n#" + b"x" * cap})
    # -- YAML 1.1 surprises ----------------------------------------------------------------
    for key in ("yes", "no", "on", "off", "True", "null", "~"):
        add("yaml11", f"'{key}' as a stage name", _stage("{cmd: echo}", name=key))
    add("yaml11", "'on' as a top-level key", S_OK + "on: {push: 1}\n")
    add("yaml11", "'yes' as a with: key", _stage("{uses: split, in: {table: t}, with: {yes: 1}, out: [tr, te]}"))
    add("yaml11", "date as a param", S_OK + "params: {day: 2024-01-01}\n")
    add("yaml11", "date as a cmd", _stage("{cmd: 2024-01-01}"))
    add("yaml11", "base-60 number", S_OK + "params: {at: 12:30}\n")
    add("yaml11", "timestamp in outs", _stage("{cmd: echo, outs: [2001-12-14t21:59:43.10-05:00]}"))
    add("yaml11", "date as a stage name", _stage("{cmd: echo}", name="2024-01-01"))
    # -- duplicates ----------------------------------------------------------------------
    add("duplicate", "'stages' twice", S_OK + "stages:\n  b: {cmd: echo}\n")
    add("duplicate", "a stage twice", "version: 1\nstages:\n  a: {cmd: echo}\n  a: {cmd: 'rm -rf ~'}\n", run=True)
    add("duplicate", "'cmd' twice in a stage", _stage("{cmd: echo, cmd: 'rm -rf ~'}"))
    add("duplicate", "a param twice", S_OK + "params:\n  seed: 1\n  seed: 2\n")
    add("duplicate", "merge key twice", "version: 1\nstages:\n  a: &d {cmd: echo}\n  b:\n    <<: *d\n    <<: {desc: x}\n")
    add("duplicate", "a with: key twice", _stage("{uses: split, in: {table: t}, with: {target: y, target: z}, out: [tr, te]}"))
    # -- unknown keys ----------------------------------------------------------------------
    add("unknown", "unknown top-level key", S_OK + "stagez: {}\n")
    add("unknown", "unknown stage key", _stage("{cmd: echo, outz: [o]}"))
    add("unknown", "unknown with: key of a builtin", _stage("{uses: split, in: {table: t}, with: {target: y, test_sizee: 0.3}, out: [tr, te]}"))
    add("unknown", "unknown resources key", _stage("{cmd: echo, resources: {gpus: 1}}"))
    add("unknown", "version 2", "version: 2\nstages:\n  a: {cmd: echo}\n")
    add("unknown", "unknown key in a cost:", _stage("{uses: evaluate, in: {model: m, table: t}, with: {target: y, cost: {fn: 1, fq: 2}}, out: [s]}"))
    add("unknown", "unknown builtin step", _stage("{uses: deploy_to_prod, out: [x]}"))
    # -- wrong types -------------------------------------------------------------------------
    for label, text in [
        ("version as text", "version: '1'\nstages:\n  a: {cmd: echo}\n"),
        ("version 1.5", "version: 1.5\nstages:\n  a: {cmd: echo}\n"),
        ("stages as a list", "version: 1\nstages: [a, b]\n"),
        ("stages as a number", "version: 1\nstages: 5\n"),
        ("a stage as text", "version: 1\nstages:\n  a: echo hi\n"),
        ("cmd as a number", _stage("{cmd: 5}")),
        ("cmd as a mapping", _stage("{cmd: {run: echo}}")),
        ("outs as a number", _stage("{cmd: echo, outs: 5}")),
        ("outs of numbers", _stage("{cmd: echo, outs: [1, 2]}")),
        ("deps nested lists", _stage("{cmd: echo, deps: [[a, b]]}")),
        ("out of numbers", _stage("{call: 'm:f', out: [1]}")),
        ("in as a list", _stage("{call: 'm:f', in: [a], out: [b]}")),
        ("with as a list", _stage("{uses: split, in: {table: t}, with: [1], out: [tr, te]}")),
        ("when as a list", _stage("{cmd: echo, when: [1]}")),
        ("gates as a mapping", _stage("{cmd: echo, gates: {a: 1}}")),
        ("matrix as a list", _stage("{cmd: echo, matrix: [1, 2]}")),
        ("resources.cpus as text", _stage("{cmd: echo, resources: {cpus: two}}")),
        ("resources.cpus NaN", _stage("{cmd: echo, resources: {cpus: .nan}}")),
        ("resources.cpus -inf", _stage("{cmd: echo, resources: {cpus: -.inf}}")),
        ("params as a list", S_OK + "params: [1, 2]\n"),
        ("params_file as a number", S_OK + "params_file: 5\n"),
        ("call as a number", _stage("{call: 5, out: [x]}")),
        ("call without a colon", _stage("{call: nomodule, out: [x]}")),
        ("cmd and call together", _stage("{cmd: echo, call: 'm:f', out: [x]}")),
        ("neither cmd, call nor uses", _stage("{deps: [x]}")),
        ("test_size of 7", _stage("{uses: split, in: {table: t}, with: {target: y, test_size: 7}, out: [tr, te]}")),
    ]:
        add("types", label, text)
    # -- empty and odd documents ------------------------------------------------------------
    for label, text in [("empty file", ""), ("only spaces", "    "), ("only newlines", "\n\n\n"),
                        ("only a comment", "# nothing here\n"), ("only '---'", "---\n"), ("only '...'", "...\n"),
                        ("only '~'", "~\n"), ("only 'null'", "null\n"), ("only tabs", "\t\t\n"),
                        ("version but no stages", "version: 1\n"), ("stages: {}", "version: 1\nstages: {}\n")]:
        add("empty", label, text)
    add("shape", "a list at top level", "- version: 1\n- stages: {}\n", run=True)
    add("shape", "a string at top level", "just some text\n")
    add("shape", "a number at top level", "42\n")
    add("shape", "a second document", S_OK + "---\nversion: 1\n")
    # -- cycles -------------------------------------------------------------------------
    add("cycle", "2-stage cycle (cmd)", "version: 1\nstages:\n  a: {cmd: echo, deps: [b.txt], outs: [a.txt]}\n"
        "  b: {cmd: echo, deps: [a.txt], outs: [b.txt]}\n", run=True)
    add("cycle", "3-stage cycle (cmd)", "version: 1\nstages:\n  a: {cmd: echo, deps: [c.txt], outs: [a.txt]}\n"
        "  b: {cmd: echo, deps: [a.txt], outs: [b.txt]}\n  c: {cmd: echo, deps: [b.txt], outs: [c.txt]}\n")
    add("cycle", "2-stage cycle (call)", "version: 1\nstages:\n  a: {call: 'm:f', in: {x: y}, out: [x]}\n"
        "  b: {call: 'm:f', in: {x: x}, out: [y]}\n", run=True)
    add("cycle", "3-stage cycle through folders", "version: 1\nstages:\n  a: {cmd: echo, deps: [c/x], outs: [a]}\n"
        "  b: {cmd: echo, deps: [a/x], outs: [b]}\n  c: {cmd: echo, deps: [b], outs: [c]}\n")
    add("cycle", "cmd stage reads its own output", _stage("{cmd: echo, deps: [o.txt], outs: [o.txt]}"), run=True)
    add("cycle", "call stage reads its own output", _stage("{call: 'm:f', in: {x: y}, out: [y]}"))
    add("cycle", "a gate reads the stage's own output", _stage("{call: 'm:f', out: [m], gates: ['m.acc > 1']}"))
    # -- matrices and counts -----------------------------------------------------------------
    axis = "[" + ", ".join(map(str, range(1000))) + "]"
    add("matrix", "matrix of 1,000,000 stages", _stage(f"{{cmd: 'echo ${{item.x}}', matrix: {{x: {axis}, y: {axis}}}}}"), run=True)
    add("matrix", "matrix of 1,001 stages", _stage("{cmd: 'echo ${item.x}', matrix: {x: [" + ", ".join(map(str, range(1001))) + "]}}"))
    axis7 = "[" + ", ".join(map(str, range(700))) + "]"
    add("matrix", "three matrices, 2,100 stages", "version: 1\nstages:\n" + "".join(
        f"  m{i}: {{cmd: 'echo ${{item.x}}', matrix: {{x: {axis7}}}}}\n" for i in range(3)))
    add("matrix", "2,001 plain stages", "version: 1\nstages:\n" + "".join(f"  s{i}: {{cmd: echo}}\n" for i in range(2001)))
    big = "[" + ", ".join(map(str, range(20_000))) + "]"
    add("matrix", "interpolation multiplies a 20k param", f"version: 1\nparams:\n  big: {big}\nstages:\n  s:\n"
        f"    call: m:f\n    matrix: {{x: {axis}}}\n    with: {{p: '${{big}}'}}\n    out: [o]\n")
    add("matrix", "200 x ${a} of 100 kB", f"version: 1\nparams: {{a: {'x' * 100_000}}}\nstages:\n  s:\n    cmd: '{'${a}' * 200}'\n")
    # -- expressions ---------------------------------------------------------------------
    metr = "version: 1\nstages:\n  p: {call: 'm:f', out: [m]}\n  a:\n    cmd: echo\n"
    add("expr", "1000-term when:", metr + "    when: '" + " + ".join(["1"] * 1000) + " > 0'\n", run=True)
    add("expr", "10 MB gate", metr + "    gates: ['" + " + ".join(["1"] * 2_500_000) + " > 0']\n")
    add("expr", "400 nested parentheses", metr + "    when: '" + "(" * 400 + "1" + ")" * 400 + " > 0'\n")
    add("expr", "201 terms of m.acc", metr + "    gates: ['" + " + ".join(["m.acc"] * 201) + " > 0']\n")
    add("expr", "a function call", metr + "    gates: [\"__import__('os').system('echo pwned > ../pwned') == 0\"]\n", run=True)
    add("expr", "a subscript", metr + "    gates: [\"m['acc'] > 0\"]\n")
    add("expr", "a lambda", metr + "    gates: ['(lambda: 1)() > 0']\n")
    add("expr", "a dunder attribute", metr + "    gates: ['m.__class__ > 0']\n")
    add("expr", "a comprehension", metr + "    gates: ['[x for x in m] == 0']\n")
    add("expr", "a walrus", metr + "    gates: ['(x := 1) > 0']\n")
    add("expr", "an f-string", metr + "    gates: [\"f'{m.acc}' == '1'\"]\n")
    add("expr", "'**'", metr + "    gates: ['2 ** 100000000 > 1']\n")
    add("expr", "string arithmetic", metr + "    gates: [\"'x' * 1000000000 == 'y'\"]\n")
    add("expr", "reference to no artifact", metr + "    gates: ['nothing.acc > 0']\n")
    add("expr", "an empty gate", metr + "    gates: ['']\n")
    # -- -p overrides ------------------------------------------------------------------------
    pspec = "version: 1\nparams: {seed: 1, model: {depth: 3}}\nstages:\n  a: {cmd: 'echo ${seed} ${model.depth}'}\n"
    for label, override in [
        ("-p unknown key", "nope=1"), ("-p unknown nested key", "model.depthh=4"),
        ("-p unparseable YAML", "seed=[1"), ("-p python tag", "seed=!!python/name:os.system x"),
        ("-p date", "seed=2024-01-01"), ("-p without '='", "seed"), ("-p with an empty key", "=1"),
        ("-p into a number", "seed.x=1"), ("-p undefined alias", "seed=*a"),
        ("-p alias bomb", "seed=[&a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol], " + ", ".join(
            f"&a{i} [" + ", ".join([f"*a{i - 1}"] * 9) + "]" for i in range(1, 9)) + "]"),
        ("-p 150-level nesting", "seed=" + "[" * 150 + "]" * 150),
        ("-p 101-digit integer", "seed=" + "1" * 101),
        ("-p yes as a key", "model={yes: 1}"),
    ]:
        add("override", label, pspec, args=("-p", override), run=label in ("-p unknown key", "-p python tag"))
    # -- paths ----------------------------------------------------------------------------
    for label, body, run in [
        ("outs ../x", "{cmd: 'echo x > ../x', outs: [../x]}", True),
        ("outs absolute", f"{{cmd: echo, outs: ['{root_hint}/abs-target']}}", True),
        ("outs '.'", "{cmd: echo, outs: [.]}", True),
        ("outs .git/x", "{cmd: echo, outs: [.git/hooks/post-checkout]}", True),
        ("outs .lockgate/x", "{cmd: echo, outs: [.lockgate/cache]}", True),
        ("outs a/../../x", "{cmd: echo, outs: [a/../../x]}", False),
        ("outs x/../.git/config", "{cmd: echo, outs: [x/../.git/config]}", False),
        ("outs ./.lockgate", "{cmd: echo, outs: [./.lockgate]}", False),
        ("outs ../repo/o.txt (leaves and comes back)", "{cmd: echo, outs: [../repo/o.txt]}", True),
        ("outs a/../../repo/o.txt", "{cmd: echo, outs: [a/../../repo/o.txt]}", False),
        ("metrics ../m.json", "{cmd: echo, metrics: [../m.json]}", True),
        ("metrics under .git", "{cmd: echo, metrics: [.git/m.json]}", False),
        ("deps under .git", "{cmd: echo, deps: [.git/config]}", False),
        ("deps under .lockgate", "{cmd: echo, deps: [.lockgate/cache]}", False),
        ("outs with a 300-byte name", "{cmd: echo, outs: [" + "n" * 300 + "]}", False),
        ("outs with a 201-byte name", "{cmd: echo, outs: [" + "n" * 201 + "]}", True),
        ("deps with a 256-byte name", "{cmd: echo, deps: [" + "d" * 256 + "]}", False),
        ("a 5000-byte path", "{cmd: echo, outs: [" + "/".join(["p" * 99] * 50) + "]}", False),
        ("a NUL in a path", '{cmd: echo, outs: ["o\\0.txt"]}', False),
        ("an empty path", "{cmd: echo, outs: ['']}", False),
        ("outs ./../x", "{cmd: echo, outs: [./../x]}", False),
    ]:
        add("paths", label, _stage(body), run=run)
    add("paths", "params_file ../p.yaml", "version: 1\nparams_file: ../p.yaml\nstages:\n  a: {cmd: echo}\n", run=True)
    add("paths", "params_file absolute", f"version: 1\nparams_file: {root_hint}/params.yaml\nstages:\n  a: {{cmd: echo}}\n")
    add("paths", "params_file is a FIFO", "version: 1\nparams_file: params.yaml\nstages:\n  a: {cmd: echo}\n",
        setup=lambda repo: os.mkfifo(repo / "params.yaml"), run=True)
    add("paths", "params_file is a folder", "version: 1\nparams_file: conf\nstages:\n  a: {cmd: echo}\n",
        setup=lambda repo: (repo / "conf").mkdir())
    add("paths", "params_file is missing", "version: 1\nparams_file: nothere.yaml\nstages:\n  a: {cmd: echo}\n")
    add("paths", "params_file with python tags", "version: 1\nparams_file: params.yaml\nstages:\n  a: {cmd: echo}\n",
        files={"params.yaml": "on: 1\nseed: !!python/name:os.system ''\n"})
    # -- names ---------------------------------------------------------------------------
    add("names", "stage name of 250 bytes", _stage("{cmd: echo}", name="s" * 250), run=True)
    add("names", "artifact name of 250 bytes", _stage("{call: 'm:f', out: [" + "a" * 250 + "]}"))
    add("names", "pipeline file name of 250 bytes", None, files={f"pipelines/{'p' * 250}.yaml": S_OK}, run=True)
    add("names", "model_name of 300 bytes", _stage("{uses: promote, in: {model: m}, with: {model_name: " + "m" * 300 + "}}"))
    add("names", "model_name ../../victim", _stage("{uses: promote, in: {model: m}, with: {model_name: ../../victim}}"), run=True)
    add("names", "model_name with a slash", _stage("{uses: promote, in: {model: m}, with: {model_name: a/b}}"))
    add("names", "stage name ../x", _stage("{cmd: echo}", name="'../x'"), run=True)
    add("names", "stage name with a slash", _stage("{cmd: echo}", name="'a/b'"))
    add("names", "artifact name a/b", _stage("{call: 'm:f', out: ['a/b']}"))
    add("names", "artifact name ../../x", _stage("{call: 'm:f', out: ['../../x']}"))
    add("names", "stage name with '@'", _stage("{cmd: echo}", name="'a@b'"))
    add("names", "matrix suffix past 200 bytes", _stage("{cmd: 'echo ${item.x}', matrix: {x: [" + "v" * 150 + "]}}", name="s" * 100))
    add("names", "input name ../x", "version: 1\ninputs: {'../x': data.csv}\nstages:\n  a: {cmd: echo}\n")
    return cases


def run_spec_case(c: Campaign, case: SpecCase, index: int) -> dict[str, Any]:
    folder = c.root / "specs" / f"{index:03d}"
    repo = c.new_repo(folder / "repo")
    for rel, content in case.files.items():
        write(repo, rel, content)
    if case.setup:
        case.setup(repo)
    before = snapshot(repo, skip_top=(".git", ".lockgate"))
    git_before = snapshot(repo / ".git")
    beside = sorted(os.listdir(folder))
    result: dict[str, Any] = {"label": case.label, "group": case.group, "commands": []}
    commands = [["validate", *case.args]] + ([["run", "--json", *case.args]] if case.run else [])
    for command in commands:
        done = c.lg(repo, *command, timeout=60)
        problems, forms = clean_exit2(done, repo)
        if done.secs > SPEC_SECONDS:
            problems.append(f"took {done.secs:.1f} s (> {SPEC_SECONDS:.0f} s)")
        after = snapshot(repo, skip_top=(".git", ".lockgate"))
        if after != before:
            problems.append("wrote in the repository: " + snapshot_diff(before, after))
        if snapshot(repo / ".git") != git_before:
            problems.append("changed .git: " + snapshot_diff(git_before, snapshot(repo / ".git")))
        if sorted(os.listdir(folder)) != beside:
            problems.append(f"wrote beside the repository: {sorted(set(os.listdir(folder)) - set(beside))}")
        result["commands"].append({
            "command": " ".join(command[:1] + [a if len(a) < 80 else a[:77] + "..." for a in command[1:]]),
            "exit": done.rc, "seconds": round(done.secs, 3), "clean": not problems, "problems": problems,
            "forms": forms, "stderr": done.err[:2000], "stdout": done.out[:500],
        })
    result["clean"] = all(cmd["clean"] for cmd in result["commands"])
    result["seconds"] = max(cmd["seconds"] for cmd in result["commands"])
    if result["clean"]:
        shutil.rmtree(folder, ignore_errors=True)
    else:
        result["kept"] = str(folder)
    return result


def section_specs(c: Campaign) -> dict[str, Any]:
    cases = hostile_specs(str(c.root / "outside"))
    if c.quick:  # a fifth of the cases, `run` only for a few
        keep_runs = {"billion laughs, 9 levels", "python/object/apply in cmd", "outs ../x", "2-stage cycle (cmd)",
                     "model_name ../../victim", "-p python tag"}
        cases = [case for i, case in enumerate(cases) if i % 5 == 0 or case.label in keep_runs]
        for case in cases:
            case.run = case.label in keep_runs
    print(f"\n== 1. hostile specs: {len(cases)} cases, {sum(1 for x in cases if x.run)} also run ==", flush=True)
    started = time.monotonic()
    with concurrent.futures.ThreadPoolExecutor(c.jobs) as pool:
        results = list(pool.map(lambda item: run_spec_case(c, item[1], item[0]), enumerate(cases)))
    elapsed = time.monotonic() - started
    commands = [cmd for r in results for cmd in r["commands"]]
    clean = [r for r in results if r["clean"]]
    slowest = sorted(results, key=lambda r: -r["seconds"])[:5]
    forms = {k: sum(cmd["forms"][k] for cmd in commands) for k in ("located", "file", "summary", "error")}
    by_group: dict[str, list[int]] = {}
    for r in results:
        by_group.setdefault(r["group"], [0, 0])
        by_group[r["group"]][0] += 1
        by_group[r["group"]][1] += r["clean"]
    print(f"{'group':<10} {'cases':>5} {'clean':>5}")
    for group, (n, ok) in by_group.items():
        print(f"{group:<10} {n:>5} {ok:>5}")
    print(f"cases: {len(results)}, clean: {len(clean)}; commands: {len(commands)} "
          f"({sum(1 for x in commands if x['command'].startswith('validate'))} validate, "
          f"{sum(1 for x in commands if x['command'].startswith('run'))} run --json), clean: "
          f"{sum(1 for x in commands if x['clean'])}; {elapsed:.0f} s")
    print(f"stderr lines: {forms['located']} FILE:LINE:COL, {forms['file']} FILE: (whole file), "
          f"{forms['summary']} summary, {forms['error']} single error:")
    print("slowest: " + "; ".join(f"{r['label']} {r['seconds']:.2f} s" for r in slowest))
    for r in results:
        if not r["clean"]:
            for cmd in r["commands"]:
                if not cmd["clean"]:
                    print(f"  NOT CLEAN [{r['group']}] {r['label']}: lockgate {cmd['command']} -> exit {cmd['exit']}: "
                          f"{'; '.join(cmd['problems'])}")
                    print(textwrap.indent(cmd["stderr"][:600].rstrip() or "(no stderr)", "      | "))
    return {"cases": results, "count": len(results), "clean": len(clean), "commands": len(commands),
            "commands_clean": sum(1 for x in commands if x["clean"]), "forms": forms,
            "slowest": [{"label": r["label"], "seconds": r["seconds"]} for r in slowest],
            "seconds": round(elapsed, 1)}


# ============================================================================================
# 2. random SIGKILLs
# ============================================================================================

KILL_GEN = '''
import numpy as np
import pyarrow as pa


def make_table(*, rows, seed):
    rng = np.random.default_rng(seed)
    return pa.table({
        "a": rng.random(rows),
        "b": rng.integers(0, 1 << 40, rows),
        "c": rng.normal(size=rows).astype(np.float32),
        "y": (rng.random(rows) < 0.3).astype(np.int8),
    })


def stats(table: pa.Table):
    a = table.column("a").to_numpy()
    return {"rows": table.num_rows, "mean_a": round(float(a.mean()), 12),
            "positives": int(table.column("y").to_numpy().sum())}


def count(table: pa.Table):
    return {"rows": table.num_rows}
'''

KILL_FOLDER = '''
import hashlib, os, sys
out = sys.argv[1]
os.makedirs(out, exist_ok=True)
for i in range(6):
    h = hashlib.sha256(str(i).encode()).digest()
    with open(os.path.join(out, f"f{i}.bin"), "wb") as f:
        for _ in range(8192 * 4):
            h = hashlib.sha256(h).digest()
            f.write(h)
'''

KILL_SPEC = '''
version: 1
params: {rows: 3000000, seed: 7}
stages:
  folder:
    cmd: python3 gen_folder.py out/folder
    deps: [gen_folder.py]
    outs: [out/folder]
  background:
    cmd: "mkdir -p out/bg; (sleep 0.6; echo late > out/bg/late.txt) & p=$!; (sleep 5; echo stray > stray_marker.txt) & wc -c < out/folder/f0.bin > out/bg/count.txt; wait $p"
    deps: [out/folder]
    outs: [out/bg]
  make_table:
    call: src.gen:make_table
    with: {rows: "${rows}", seed: "${seed}"}
    out: [table]
  table_stats:
    call: src.gen:stats
    in: {table: table}
    out: [stats]
  split:
    uses: split
    in: {table: table}
    with: {target: y, test_size: 0.25, seed: 7}
    out: [train, test]
  train_rows:
    call: src.gen:count
    in: {table: train}
    out: [train_rows]
  summary:
    cmd: "python3 -c \\"import json,os; print(json.dumps({'files': len(os.listdir('out/folder')), 'bg': len(os.listdir('out/bg')), 'late': int(os.path.exists('out/bg/late.txt'))}))\\" > out/summary.json"
    deps: [out/bg, out/folder]
    metrics: [out/summary.json]
'''


def kill_project(c: Campaign, path: Path) -> Path:
    repo = c.new_repo(path)
    write(repo, "pipelines/p.yaml", KILL_SPEC)
    write(repo, "src/__init__.py", "")
    write(repo, "src/gen.py", KILL_GEN)
    write(repo, "gen_folder.py", KILL_FOLDER)
    write(repo, ".gitignore", "/out\n/stray_marker.txt\n")
    return repo


def outputs_of(repo: Path) -> dict[str, Any]:
    """What a finished run produced: each stage's output records (digest, object key)
    and metrics from the lock, and every workspace file under out/ by hash."""
    import yaml

    lock = yaml.safe_load((repo / "pipelines/p.lock").read_text())
    stages = {}
    for name, entry in sorted((lock.get("stages") or {}).items()):
        stages[name] = {
            "outputs": {k: (v.get("kind"), v.get("digest"), v.get("object", v.get("digest")))
                        for k, v in sorted((entry.get("outputs") or {}).items())},
            "metrics": entry.get("metrics"),
            "fingerprint": entry.get("fingerprint"),
        }
    files = {rel: val for rel, val in snapshot(repo / "out").items()}
    return {"stages": stages, "files": files}


def compare_outputs(ref: dict, got: dict) -> list[str]:
    diffs = []
    for name in sorted(set(ref["stages"]) | set(got["stages"])):
        a, b = ref["stages"].get(name), got["stages"].get(name)
        if a is None or b is None:
            diffs.append(f"stage {name} {'missing from the lock' if b is None else 'unexpected'}")
            continue
        for key in ("outputs", "metrics", "fingerprint"):
            if a[key] != b[key]:
                diffs.append(f"stage {name}: {key} differ")
    if ref["files"] != got["files"]:
        diffs.append("workspace out/: " + snapshot_diff(ref["files"], got["files"]))
    return diffs


def stage_states(repo: Path, fingerprints: dict[str, str]) -> tuple[list[str], list[str]]:
    """(stages started, stages finished) at the moment of the kill: a log file exists
    once a stage starts; a run-cache entry once its outputs are stored."""
    started = sorted(s for s in fingerprints if (repo / ".lockgate/logs/p" / f"{s}.log").exists())
    finished = sorted(s for s, fp in fingerprints.items()
                      if (repo / ".lockgate/runcache" / fp[:2] / f"{fp[2:]}.json").exists())
    return started, finished


def section_kills(c: Campaign, kills: int) -> dict[str, Any]:
    import yaml

    from lockgate.lock import LockFile

    print(f"\n== 2. random SIGKILLs: {kills} kills, seed {c.seed} ==", flush=True)
    base = c.root / "kills"
    base.mkdir()
    # reference: one cold run (its wall time sets T), then the outputs every recovery must equal
    ref_repo = kill_project(c, base / "reference")
    started = time.monotonic()
    done = c.lg(ref_repo, "run", "--json", timeout=300)
    cold = time.monotonic() - started
    if done.rc != 0:
        raise RuntimeError(f"reference run failed: {done.err}\n{done.out}")
    reference = outputs_of(ref_repo)
    fingerprints = {s: v["fingerprint"] for s, v in reference["stages"].items()}
    window = cold
    print(f"reference cold run: {cold:.2f} s (T = {window:.2f} s); stages: {', '.join(sorted(fingerprints))}",
          flush=True)
    rng = random.Random(c.seed)
    records: list[dict[str, Any]] = []
    attempts = 0
    template = kill_project(c, base / "template")
    while sum(1 for r in records if r["killed"]) < kills and attempts < kills * 2:
        attempts += 1
        delay = rng.uniform(0, window)
        rec = run_one_kill(c, template, base / f"k{attempts:03d}", delay, fingerprints, reference, yaml, LockFile)
        records.append(rec)
        if rec["killed"]:
            n = sum(1 for r in records if r["killed"])
            status = "ok" if rec["ok"] else "FAILED: " + "; ".join(rec["problems"])
            print(f"  kill {n:>2} at {delay:5.2f} s, running: {rec['landed']:<40} {status}", flush=True)
    killed = [r for r in records if r["killed"]]
    landed: dict[str, int] = {}
    for r in killed:
        for stage in r["running"] or [r["landed"]]:
            landed[stage] = landed.get(stage, 0) + 1
    summary = {
        "seed": c.seed, "cold_run_seconds": round(cold, 2), "window_seconds": round(window, 2),
        "attempts": attempts, "kills": len(killed), "after_the_end": attempts - len(killed),
        "ok": sum(1 for r in killed if r["ok"]),
        "corrupt_objects": sum(r["corrupt"] for r in killed), "missing_objects": sum(r["missing"] for r in killed),
        "stage_processes_alive_after_5s": sum(1 for r in killed if r["alive_after"]),
        "lock_unparseable": sum(1 for r in killed if not r["lock_ok"]),
        "recoveries_identical": sum(1 for r in killed if r["recovered"] and not r["diffs"]),
        "stray_writes": sum(1 for r in killed if r["stray"]),
        "leftovers_killed_by_next_run": sum(1 for r in killed if r["leftovers_killed"]),
        "landed": dict(sorted(landed.items(), key=lambda kv: -kv[1])),
        "max_seconds_until_stage_processes_gone": max((r["gone_after"] for r in killed), default=0.0),
        "kills_with_stage_processes_running": sum(1 for r in killed if r.get("stage_processes_at_kill")),
        "stage_processes_seen_at_kills": sum(r.get("stage_processes_at_kill", 0) for r in killed),
        "recovery_outcomes": _count_outcomes(killed),
        "records": records,
    }
    print(f"kills: {summary['kills']} (of {attempts} draws; {summary['after_the_end']} fell after the run ended)")
    print(f"corrupt objects: {summary['corrupt_objects']}, missing referenced objects: {summary['missing_objects']}, "
          f"unparseable locks: {summary['lock_unparseable']}, stage processes alive 5 s after: "
          f"{summary['stage_processes_alive_after_5s']}, stray writes: {summary['stray_writes']}")
    print(f"recoveries with identical outputs: {summary['recoveries_identical']}/{summary['kills']}; "
          f"slowest stage-process exit after the kill: {summary['max_seconds_until_stage_processes_gone']:.2f} s")
    print("landed while running: " + ", ".join(f"{k} {v}" for k, v in summary["landed"].items()))
    print(f"kills while shell-stage processes ran: {summary['kills_with_stage_processes_running']} "
          f"({summary['stage_processes_seen_at_kills']} processes seen at the kills, all gone after); "
          "recovery outcomes: " + ", ".join(f"{k} {v}" for k, v in summary["recovery_outcomes"].items()))
    shutil.rmtree(template, ignore_errors=True)
    if all(r["ok"] for r in killed):
        shutil.rmtree(ref_repo, ignore_errors=True)
    return summary


def _count_outcomes(records: list[dict[str, Any]]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for r in records:
        for outcome in (r.get("outcomes") or {}).values():
            counts[outcome] = counts.get(outcome, 0) + 1
    return dict(sorted(counts.items(), key=lambda kv: -kv[1]))


def run_one_kill(c: Campaign, template: Path, folder: Path, delay: float, fingerprints: dict[str, str],
                 reference: dict, yaml: Any, LockFile: Any) -> dict[str, Any]:
    repo = folder / "repo"
    folder.mkdir()
    shutil.copytree(template, repo, symlinks=True)
    token = f"{c.token}-k{folder.name}"
    env = {**c.env, TOKEN_VAR: token}
    rec: dict[str, Any] = {"delay": round(delay, 3), "killed": False, "problems": []}
    log_out = open(folder / "killed-run.out", "wb")
    started = time.monotonic()
    proc = subprocess.Popen([PY, "-m", "lockgate", "run"], cwd=repo, env=env, stdin=subprocess.DEVNULL,
                            stdout=log_out, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        proc.wait(timeout=delay)
    except subprocess.TimeoutExpired:
        rec["stage_processes_at_kill"] = len(processes_with(token))  # shows the detector sees them
        os.kill(proc.pid, signal.SIGKILL)  # lockgate only, as `kill -9 PID` does: not its group
        rec["killed"] = True
        rec["killed_at"] = round(time.monotonic() - started, 3)
    proc.wait()
    log_out.close()
    if not rec["killed"]:
        rec["exit"] = proc.returncode
        shutil.rmtree(folder, ignore_errors=True)
        return rec
    started_stages, finished = stage_states(repo, fingerprints)
    running = [s for s in started_stages if s not in finished]
    rec["running"], rec["finished"] = running, finished
    rec["landed"] = ("+".join(running) if running else "(before any stage)" if not started_stages
                     else "(between stages / writing the lock)" if len(finished) < len(fingerprints)
                     else "(after the last stage)")
    # 1. no stage process outlives lockgate by more than 5 s
    t0 = time.monotonic()
    alive = processes_with(token)
    while alive and time.monotonic() - t0 < GONE_SECONDS:
        time.sleep(0.05)
        alive = processes_with(token)
    rec["gone_after"] = round(time.monotonic() - t0, 3)
    rec["alive_after"] = [cmd for _, cmd in alive]
    if alive:
        rec["problems"].append(f"{len(alive)} stage processes alive {GONE_SECONDS:.0f} s after the kill: "
                               + "; ".join(cmd for _, cmd in alive))
        kill_ours(token)
    # 2. the cache: no corrupt object, no missing referenced one
    done = c.lg(repo, "verify", "--all", "--json", timeout=300, env=env)
    rec["corrupt"] = rec["missing"] = 0
    try:
        report = json.loads(done.out)
        rec["corrupt"], rec["missing"] = len(report["corrupt"]), len(report["missing"])
        rec["checked"] = report["checked"]
        if report["corrupt"] or report["missing"]:
            rec["problems"].append(f"verify --all: {len(report['corrupt'])} corrupt, {len(report['missing'])} "
                                   f"missing: {json.dumps(report['corrupt'] + report['missing'])[:400]}")
    except (ValueError, KeyError):
        rec["problems"].append(f"verify --all --json: exit {done.rc}, not JSON: {done.short()}")
    if "Traceback" in done.err:
        rec["problems"].append("verify: traceback")
    # 3. the lock parses (when one was written)
    rec["lock_ok"] = True
    lock_path = repo / "pipelines/p.lock"
    rec["lock_existed"] = lock_path.exists()
    if lock_path.exists():
        try:
            text = lock_path.read_text(encoding="utf-8")
            if not isinstance(yaml.safe_load(text), dict):
                raise ValueError("not a mapping")
            LockFile.from_text(text, "p")
            rec["locked_stages"] = len(yaml.safe_load(text).get("stages") or {})
        except Exception as exc:  # noqa: BLE001 - any failure to parse is the finding
            rec["lock_ok"] = False
            rec["problems"].append(f"lock does not parse: {type(exc).__name__}: {exc}")
    # 4. a normal run recovers, with the reference's outputs
    done = c.lg(repo, "run", "--json", timeout=300, env=env)
    rec["recovery_seconds"] = round(done.secs, 2)
    rec["recovered"] = done.rc == 0
    rec["leftovers_killed"] = "killed" in done.err and "process" in done.err
    if done.rc != 0 or "Traceback" in done.err:
        rec["problems"].append(f"recovery run: exit {done.rc}: {done.short()}")
    try:
        rec["outcomes"] = {s["stage"]: s["outcome"] for s in json.loads(done.out)["stages"]}
    except (ValueError, KeyError):
        rec["outcomes"] = {}
    rec["diffs"] = []
    if done.rc == 0:
        rec["diffs"] = compare_outputs(reference, outputs_of(repo))
        if rec["diffs"]:
            rec["problems"].append("outputs differ from the reference: " + "; ".join(rec["diffs"]))
    done = c.lg(repo, "verify", timeout=300, env=env)
    if done.rc != 0:
        rec["problems"].append(f"verify after recovery: exit {done.rc}: {done.short()}")
    procs = list((repo / ".lockgate/procs").glob("*.json")) if (repo / ".lockgate/procs").exists() else []
    if procs:
        rec["problems"].append(f"{len(procs)} process records left in .lockgate/procs")
    rec["stray"] = (repo / "stray_marker.txt").exists()
    if rec["stray"]:
        rec["problems"].append("a background grandchild wrote stray_marker.txt (it outlived its stage)")
    if processes_with(token, stage_only=False):
        rec["problems"].append("processes of this run still alive after recovery")
        kill_ours(token)
    rec["ok"] = not rec["problems"]
    if rec["ok"]:
        shutil.rmtree(folder, ignore_errors=True)
    else:
        rec["kept"] = str(folder)
    return rec


# ============================================================================================
# 3. path, symlink and trust attacks
# ============================================================================================


class Attack:
    """One attack: its own repository and victim, and the checks after every command."""

    def __init__(self, c: Campaign, name: str, what: str) -> None:
        self.c = c
        self.name = name
        self.what = what
        slug = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")
        self.dir = c.root / "attacks" / slug
        self.dir.mkdir(parents=True)
        self.victim = self.dir / "victim"
        make_victim(self.victim)
        self.repo = c.new_repo(self.dir / "repo")
        self.remote = self.dir / "remote"
        self.before = snapshot(self.victim)
        self.steps: list[dict[str, Any]] = []
        self.problems: list[str] = []
        self.notes: list[str] = []
        self.allowed_beside = {"victim", "repo", "remote", "clone", "elsewhere", "shared", "canary"}
        self.secrets = [SECRET]

    def lg(self, *args: str, cwd: Path | None = None, expect: tuple[int, ...] | None = None,
           timeout: float = 120) -> Done:
        done = self.c.lg(cwd or self.repo, *args, timeout=timeout)
        step = {"command": "lockgate " + " ".join(args), "exit": done.rc, "out": done.short(240)}
        self.steps.append(step)
        if "Traceback" in done.err or "Traceback" in done.out:
            self.problems.append(f"traceback from `lockgate {' '.join(args)}`: {done.err[-300:]}")
        if done.timed_out:
            self.problems.append(f"`lockgate {' '.join(args)}` timed out")
        if expect is not None and done.rc not in expect:
            self.notes.append(f"`lockgate {' '.join(args)}` exit {done.rc} (expected {expect}): {done.short(200)}")
        self.check(f"lockgate {' '.join(args)}")
        return done

    def check(self, after: str) -> None:
        now = snapshot(self.victim)
        if now != self.before:
            diff = snapshot_diff(self.before, now)
            self.problems.append(f"victim changed after `{after}`: {diff}")
            step_note = self.steps[-1] if self.steps else {}
            step_note["victim"] = diff
            self.before = now  # report each change once
        beside = set(os.listdir(self.dir)) - self.allowed_beside
        if beside:
            self.problems.append(f"created beside the repository after `{after}`: {sorted(beside)}")
            self.allowed_beside |= beside

    def leak_check(self) -> None:
        places = [self.repo / ".lockgate/cache", self.remote, self.dir / "clone/.lockgate/cache"]
        for secret in self.secrets:
            for place in places:
                hits = files_holding(place, secret)
                if hits:
                    self.problems.append(f"{secret[:9].decode()}... bytes stored in {place.relative_to(self.dir)}: "
                                         f"{hits[:3]}")

    def result(self) -> dict[str, Any]:
        self.leak_check()
        self.check("the end")
        return {"name": self.name, "what": self.what, "safe": not self.problems, "problems": self.problems,
                "notes": self.notes, "steps": self.steps}


def make_victim(victim: Path) -> None:
    (victim / "deep").mkdir(parents=True)
    (victim / "o").mkdir()
    (victim / "a.txt").write_bytes(SECRET + b"-a\n")
    (victim / "deep/b.txt").write_bytes(SECRET + b"-b\n")
    (victim / "o/f").write_bytes(SECRET + b"-o\n")
    (victim / "o/keep.txt").write_bytes(SECRET + b"-keep\n")
    (victim / "empty.log").write_bytes(b"")
    (victim / "table.csv").write_bytes(b"x,secret\n1," + SECRET + b"\n")
    (victim / "pipes").mkdir()
    (victim / "pipes/p.yaml").write_bytes(b"version: 1\nstages:\n  a: {cmd: 'echo hi > o.txt', outs: [o.txt]}\n")
    os.chmod(victim / "a.txt", 0o644)


def _digest_bytes(data: bytes) -> str:
    from lockgate.hashing import digest_bytes

    return digest_bytes(data)


def _canonical(value: Any) -> bytes:
    from lockgate.hashing import canonical_json

    return canonical_json(value)


def _put_object(cache: Path, data: bytes) -> str:
    digest = _digest_bytes(data)
    path = cache / "objects" / digest[:2] / digest[2:]
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists():
        path.write_bytes(data)
        os.chmod(path, 0o444)
    return digest


def _lock(repo: Path, name: str = "p") -> dict:
    import yaml

    return yaml.safe_load((repo / f"pipelines/{name}.lock").read_text())


def _write_lock(repo: Path, data: dict, name: str = "p") -> None:
    import yaml

    (repo / f"pipelines/{name}.lock").write_text(yaml.safe_dump(data, sort_keys=True))


def _drop_runcache(repo: Path) -> None:
    shutil.rmtree(repo / ".lockgate/runcache", ignore_errors=True)
    shutil.rmtree(repo / ".lockgate/lockcache", ignore_errors=True)


def _outcomes(done: Done) -> dict[str, str]:
    try:
        return {s["stage"]: s["outcome"] + (f" ({s['message'].splitlines()[0][:150]})" if s.get("message") else "")
                for s in json.loads(done.out)["stages"]}
    except (ValueError, KeyError, TypeError, IndexError):
        return {}


def _commit(a: Attack, repo: Path | None = None) -> None:
    repo = repo or a.repo
    a.c.git(repo, "add", "-A")
    a.c.git(repo, "commit", "-qm", "attack", "--allow-empty")


LINKS_SPEC = """
version: 1
stages:
  make:
    cmd: mkdir -p out && cp src.txt out/f.txt && ln -sfn {victim} out/ext && ln -sfn {victim}/a.txt out/h && ln -sfn f.txt out/same
    deps: [src.txt]
    outs: [out]
"""


def _folder_becomes_link(a: Attack, folder: str, out: str) -> None:
    """A stage writes ``out/f``; between runs ``folder`` (``out`` or a parent of it) is
    replaced by a link to the victim folder: status, restore and a forced run must not
    follow it (the command refuses to run through the link, exit 3)."""
    write(a.repo, "pipelines/p.yaml", f"version: 1\nstages:\n  a:\n    cmd: '[ -L {folder} ] && exit 3; "
          f"mkdir -p {out} && echo ours > {out}/f'\n    outs: [{out}]\n")
    a.lg("run", "--json", expect=(0,))
    shutil.rmtree(a.repo / folder)
    (a.repo / folder).symlink_to(a.victim)
    a.lg("status")
    a.lg("run", "--json")
    a.lg("run", "--json", "-f")


def attacks_list() -> list[tuple[str, str, Callable[[Attack], None]]]:
    items: list[tuple[str, str, Callable[[Attack], None]]] = []

    def attack(name: str, what: str):
        def deco(fn):
            items.append((name, what, fn))
            return fn
        return deco

    @attack("folder output with links out", "an output folder holding a link to the victim folder, one to a victim "
            "file and one inside; edit, delete and restore it, gc, push, clone and pull")
    def _(a: Attack) -> None:
        write(a.repo, "pipelines/p.yaml", LINKS_SPEC.format(victim=a.victim))
        write(a.repo, "src.txt", "ours\n")
        write(a.repo, ".gitignore", "/out\n")
        a.lg("run", "--json", expect=(0,))
        (a.repo / "out/f.txt").write_text("edited\n")
        a.lg("run", "--json", expect=(0,))
        (a.repo / "out/stray").symlink_to(a.victim / "deep")  # a link the manifest lacks: pruned, not followed
        (a.repo / "out/ext").unlink()
        (a.repo / "out/ext/inner").mkdir(parents=True)
        a.lg("run", "--json", expect=(0,))
        shutil.rmtree(a.repo / "out")
        a.lg("run", "--json", expect=(0,))
        if os.readlink(a.repo / "out/ext") != str(a.victim):
            a.problems.append("out/ext not restored as the link")
        a.lg("gc", expect=(0,))
        a.lg("push", "-r", a.remote.as_uri(), expect=(0,))
        _commit(a)
        a.c.git(a.dir, "clone", "-q", str(a.repo), str(a.dir / "clone"))
        a.lg("pull", "-r", a.remote.as_uri(), cwd=a.dir / "clone", expect=(0,))
        a.lg("run", "--json", cwd=a.dir / "clone", expect=(0,))

    @attack("output path is a link to a victim file", "outs: [link.txt], the command makes it a link to a victim "
            "file; replaced by a regular file, then deleted, between runs")
    def _(a: Attack) -> None:
        write(a.repo, "pipelines/p.yaml", f"version: 1\nstages:\n  a:\n    cmd: ln -sfn {a.victim}/a.txt link.txt\n"
              "    outs: [link.txt]\n")
        a.lg("run", "--json", expect=(0,))
        (a.repo / "link.txt").unlink()
        (a.repo / "link.txt").write_text("regular\n")
        a.lg("run", "--json", expect=(0,))
        (a.repo / "link.txt").unlink()
        a.lg("run", "--json", expect=(0,))
        a.lg("status")

    @attack("dangling link output", "an output link to a victim path that does not exist; restored twice")
    def _(a: Attack) -> None:
        write(a.repo, "pipelines/p.yaml", f"version: 1\nstages:\n  a:\n    cmd: ln -sfn {a.victim}/missing.txt dang\n"
              "    outs: [dang]\n")
        a.lg("run", "--json", expect=(0,))
        (a.repo / "dang").unlink()
        a.lg("run", "--json", expect=(0,))
        a.lg("run", "--json", "-f", expect=(0,))

    @attack("output file replaced by a link between runs", "out/f.txt replaced by a link to a victim file; "
            "the next run restores out/f.txt")
    def _(a: Attack) -> None:
        write(a.repo, "pipelines/p.yaml", "version: 1\nstages:\n  a:\n    cmd: mkdir -p out && echo ours > out/f.txt "
              "&& echo two > out/g.txt\n    outs: [out]\n")
        a.lg("run", "--json", expect=(0,))
        (a.repo / "out/f.txt").unlink()
        (a.repo / "out/f.txt").symlink_to(a.victim / "a.txt")
        a.lg("status")
        a.lg("run", "--json", expect=(0,))
        if (a.repo / "out/f.txt").is_symlink():
            a.notes.append("out/f.txt is still a link after the run")

    @attack("output folder replaced by a link between runs", "out/ replaced by a link to the victim folder "
            "(which has files the manifest lacks): restore and prune")
    def _(a: Attack) -> None:
        _folder_becomes_link(a, "out", "out")

    @attack("output's parent folder replaced by a link", "data/o written by a stage; data/ becomes a link to the "
            "victim (which has o/f and o/keep.txt): restore and prune must not follow it")
    def _(a: Attack) -> None:
        _folder_becomes_link(a, "data", "data/o")

    @attack("output inside a folder linked outside", "data/ is a link to an outside folder from the start; the "
            "stage writes data/o/f there: the stage fails and nothing of it is cached")
    def _(a: Attack) -> None:
        elsewhere = a.dir / "elsewhere"
        elsewhere.mkdir()
        a.secrets.append(ELSEWHERE_SECRET)
        (a.repo / "data").symlink_to(elsewhere)
        write(a.repo, "pipelines/p.yaml", "version: 1\nstages:\n  a:\n    cmd: mkdir -p data/o && printf "
              f"'{ELSEWHERE_SECRET.decode()}' > data/o/f\n    outs: [data/o]\n")
        done = a.lg("run", "--json", expect=(1,))
        a.notes.append(f"outcome: {_outcomes(done)}")

    @attack("outs escaping in the spec", "outs ../victim/x, an absolute victim path, metrics ../victim/m.json, "
            "outs through ../repo: each refused before running")
    def _(a: Attack) -> None:
        for outs in (f"outs: [../victim/x]", f"outs: ['{a.victim}/a.txt']", "metrics: [../victim/m.json]",
                     "outs: [../victim/../repo/../victim/y]"):
            write(a.repo, "pipelines/p.yaml", f"version: 1\nstages:\n  a:\n    cmd: echo x\n    {outs}\n")
            a.lg("run", "--json", expect=(2,))

    @attack("deps outside (absolute file)", "deps: [VICTIM/a.txt]: read and hashed (the command counts its bytes), "
            "never stored; run, status, gc, push")
    def _(a: Attack) -> None:
        write(a.repo, "pipelines/p.yaml", f"version: 1\nstages:\n  a:\n    cmd: wc -c < {a.victim}/a.txt > n.txt\n"
              f"    deps: ['{a.victim}/a.txt']\n    outs: [n.txt]\n")
        a.lg("run", "--json", expect=(0,))
        (a.repo / "n.txt").unlink()
        a.lg("run", "--json", expect=(0,))
        a.lg("status")
        a.lg("gc", expect=(0,))
        a.lg("push", "-r", a.remote.as_uri(), expect=(0,))

    @attack("deps outside (relative folder)", "deps: [../victim] (a folder, by a relative path leading out)")
    def _(a: Attack) -> None:
        write(a.repo, "pipelines/p.yaml", "version: 1\nstages:\n  a:\n    cmd: ls ../victim | wc -l > n.txt\n"
              "    deps: [../victim]\n    outs: [n.txt]\n")
        a.lg("run", "--json", expect=(0,))
        a.lg("run", "--json", "-f", expect=(0,))
        a.lg("push", "-r", a.remote.as_uri(), expect=(0,))

    @attack("deps through a link inside the repository", "deps: [vlink] where vlink is a link to the victim "
            "folder, and [flink] to a victim file")
    def _(a: Attack) -> None:
        (a.repo / "vlink").symlink_to(a.victim)
        (a.repo / "flink").symlink_to(a.victim / "a.txt")
        write(a.repo, "pipelines/p.yaml", "version: 1\nstages:\n  a:\n    cmd: ls vlink | wc -l > n.txt\n"
              "    deps: [vlink, flink]\n    outs: [n.txt]\n")
        a.lg("run", "--json")
        a.lg("status")
        a.lg("push", "-r", a.remote.as_uri())

    @attack("inputs outside the repository", "inputs: {ext: VICTIM/table.csv} read by a call stage that returns "
            "only a row count: the bytes must not be stored")
    def _(a: Attack) -> None:
        write(a.repo, "src/__init__.py", "")
        write(a.repo, "src/m.py", "def rows(t):\n    return {'rows': t.height}\n")
        write(a.repo, "pipelines/p.yaml", f"version: 1\ninputs: {{ext: '{a.victim}/table.csv'}}\nstages:\n"
              "  a: {call: 'src.m:rows', in: {t: ext}, out: [n]}\n")
        a.lg("run", "--json", expect=(0,))
        a.lg("push", "-r", a.remote.as_uri(), expect=(0,))
        if "inputs:" in (a.repo / "pipelines/p.lock").read_text().split("stages:")[0]:
            a.notes.append("the lock records the outside input under inputs:")
        _table_objects_hold(a, SECRET)

    @attack("lockgate add of links out", "lockgate add of a link to a victim file, of a link to the victim "
            "folder, of ../victim/a.txt and of an absolute victim path: each refused")
    def _(a: Attack) -> None:
        (a.repo / "flink").symlink_to(a.victim / "a.txt")
        (a.repo / "vdir").symlink_to(a.victim)
        a.lg("add", "flink", expect=(2,))
        a.lg("add", "vdir", expect=(2,))
        a.lg("add", "../victim/a.txt", expect=(2,))
        a.lg("add", str(a.victim / "deep"), expect=(2,))
        a.lg("add", "vdir/a.txt", expect=(2,))

    @attack("lockgate add of a folder holding links out", "data/ with a file, a link to a victim file and a "
            "link to the victim folder: stored as links; deleted and pulled back")
    def _(a: Attack) -> None:
        (a.repo / "data").mkdir()
        (a.repo / "data/rows.csv").write_text("x\n1\n")
        (a.repo / "data/outside").symlink_to(a.victim / "a.txt")
        (a.repo / "data/vd").symlink_to(a.victim)
        a.lg("add", "data", expect=(0,))
        a.lg("push", "-r", a.remote.as_uri(), expect=(0,))
        shutil.rmtree(a.repo / "data")
        a.lg("pull", "-r", a.remote.as_uri(), expect=(0,))
        if not (a.repo / "data/vd").is_symlink():
            a.problems.append("data/vd not restored as a link")

    @attack("tampered lock: a record naming another object", "out1's record names out2's object; out1 deleted; "
            "run, then verify")
    def _(a: Attack) -> None:
        write(a.repo, "pipelines/p.yaml", "version: 1\nstages:\n  a: {cmd: 'echo one > o1.txt', outs: [o1.txt]}\n"
              "  b: {cmd: 'echo two > o2.txt', outs: [o2.txt]}\n")
        a.lg("run", "--json", expect=(0,))
        data = _lock(a.repo)
        data["stages"]["a"]["outputs"]["o1.txt"] = dict(data["stages"]["b"]["outputs"]["o2.txt"])
        _write_lock(a.repo, data)
        (a.repo / "o1.txt").unlink()
        done = a.lg("run", "--json")
        content = (a.repo / "o1.txt").read_text() if (a.repo / "o1.txt").exists() else None
        a.notes.append(f"outcomes {_outcomes(done)}; o1.txt now holds {content!r}")
        a.lg("verify", expect=(0,))

    for variant, entry in [
        ("a ../../ path", lambda a, h, n: {"path": "../../victim/pwn.txt", "hash": h, "size": n}),
        ("an absolute path", lambda a, h, n: {"path": str(a.victim / "pwn.txt"), "hash": h, "size": n}),
        ("a file under a link", None),
        ("a path listed twice", "dup"),
    ]:
        def forged(a: Attack, variant=variant, entry=entry) -> None:
            write(a.repo, "pipelines/p.yaml", "version: 1\nstages:\n  a:\n    cmd: mkdir -p out && echo ours > "
                  "out/f.txt\n    outs: [out]\n")
            a.lg("run", "--json", expect=(0,))
            cache = a.repo / ".lockgate/cache"
            payload = b"FORGED-PAYLOAD\n"
            h = _put_object(cache, payload)
            if entry is None:  # a link entry out to the victim, then a file "under" it
                target = str(a.victim)
                manifest = [{"path": "lnk", "hash": _digest_bytes(os.fsencode(target)), "size": len(target),
                             "link": target},
                            {"path": "lnk/pwn.txt", "hash": h, "size": len(payload)}]
                _put_object(cache, os.fsencode(target))
            elif entry == "dup":
                manifest = [{"path": "f.txt", "hash": h, "size": len(payload)},
                            {"path": "f.txt", "hash": h, "size": len(payload)}]
            else:
                manifest = [entry(a, h, len(payload))]
            digest = _put_object(cache, _canonical(manifest))
            data = _lock(a.repo)
            data["stages"]["a"]["outputs"]["out"] = {"kind": "tree", "digest": digest,
                                                     "meta": {"files": 1, "size": len(payload)}}
            _write_lock(a.repo, data)
            _drop_runcache(a.repo)
            shutil.rmtree(a.repo / "out")
            done = a.lg("run", "--json")
            a.notes.append(f"run: {_outcomes(done)}")
            shutil.rmtree(a.repo / "out", ignore_errors=True)
            _write_lock(a.repo, data)
            a.lg("push", "-r", a.remote.as_uri())
            _commit(a)
            a.c.git(a.dir, "clone", "-q", str(a.repo), str(a.dir / "clone"))
            done = a.lg("pull", "-r", a.remote.as_uri(), cwd=a.dir / "clone")
            a.notes.append(f"pull in a clone: exit {done.rc}: {done.short(200)}")
            if (a.victim / "pwn.txt").exists() or (a.victim / "pwn.txt").is_symlink():
                a.problems.append("victim/pwn.txt written")
        items.append((f"forged manifest: {variant}", f"a folder manifest forged in the cache with {variant}, named "
                      "by the lock; run, then push, clone and pull", forged))

    @attack("tampered lock: output path ../victim", "a cmd stage's lock entry lists an output ../victim/zz.txt "
            "and an absolute one; pull in a clone must not restore them")
    def _(a: Attack) -> None:
        write(a.repo, "pipelines/p.yaml", "version: 1\nstages:\n  a: {cmd: 'echo one > o1.txt', outs: [o1.txt]}\n")
        a.lg("run", "--json", expect=(0,))
        data = _lock(a.repo)
        rec = dict(data["stages"]["a"]["outputs"]["o1.txt"])
        data["stages"]["a"]["outputs"]["../victim/zz.txt"] = rec
        data["stages"]["a"]["outputs"][str(a.victim / "zz2.txt")] = rec
        _write_lock(a.repo, data)
        a.lg("push", "-r", a.remote.as_uri())
        _commit(a)
        a.c.git(a.dir, "clone", "-q", str(a.repo), str(a.dir / "clone"))
        a.lg("pull", "-r", a.remote.as_uri(), cwd=a.dir / "clone")
        a.lg("run", "--json", cwd=a.dir / "clone")
        a.lg("status", cwd=a.dir / "clone")

    @attack("tampered data.lock", "data.lock entries ../victim/zz.txt, an absolute victim path, and vlink/zz.txt "
            "where vlink is a committed link to the victim folder; pull in a clone")
    def _(a: Attack) -> None:
        import yaml

        (a.repo / "d.txt").write_text("data\n")
        a.lg("add", "d.txt", expect=(0,))
        data = yaml.safe_load((a.repo / "data.lock").read_text())
        rec = data["data"]["d.txt"]
        (a.repo / "vlink").symlink_to(a.victim)
        data["data"].update({"../victim/zz.txt": rec, str(a.victim / "zz2.txt"): rec, "vlink/zz3.txt": rec,
                             "vlink/o": rec})
        (a.repo / "data.lock").write_text(yaml.safe_dump(data))
        a.lg("push", "-r", a.remote.as_uri())
        _commit(a)
        a.c.git(a.dir, "clone", "-q", str(a.repo), str(a.dir / "clone"))
        done = a.lg("pull", "-r", a.remote.as_uri(), cwd=a.dir / "clone")
        a.notes.append(f"pull: {done.short(240)}")
        a.lg("status", cwd=a.dir / "clone")

    @attack("tampered remote object", "one object in the remote overwritten with other bytes (its name kept); "
            "pull in a fresh clone must reject it")
    def _(a: Attack) -> None:
        write(a.repo, "pipelines/p.yaml", "version: 1\nstages:\n  a: {cmd: 'echo one > o1.txt', outs: [o1.txt]}\n")
        a.lg("run", "--json", expect=(0,))
        a.lg("push", "-r", a.remote.as_uri(), expect=(0,))
        digest = _lock(a.repo)["stages"]["a"]["outputs"]["o1.txt"]["digest"]
        path = a.remote / "objects" / digest[:2] / digest[2:]
        os.chmod(path, 0o644)
        path.write_bytes(b"TAMPERED\n")
        _commit(a)
        clone = a.dir / "clone"
        a.c.git(a.dir, "clone", "-q", str(a.repo), str(clone))
        done = a.lg("pull", "-r", a.remote.as_uri(), cwd=clone)
        a.notes.append(f"pull: exit {done.rc}: {done.short(200)}")
        if (clone / "o1.txt").exists() and (clone / "o1.txt").read_bytes() == b"TAMPERED\n":
            a.problems.append("the tampered bytes were restored into the clone")
        a.lg("verify", "--all", cwd=clone)
        done = a.lg("run", "--json", cwd=clone)
        a.notes.append(f"run in the clone: {_outcomes(done)}")

    @attack("remote object is a link to a victim file", "a remote object replaced by a symlink to a victim file; "
            "pull must not cache the victim's bytes")
    def _(a: Attack) -> None:
        write(a.repo, "pipelines/p.yaml", "version: 1\nstages:\n  a: {cmd: 'echo one > o1.txt', outs: [o1.txt]}\n")
        a.lg("run", "--json", expect=(0,))
        a.lg("push", "-r", a.remote.as_uri(), expect=(0,))
        digest = _lock(a.repo)["stages"]["a"]["outputs"]["o1.txt"]["digest"]
        path = a.remote / "objects" / digest[:2] / digest[2:]
        path.unlink()
        path.symlink_to(a.victim / "a.txt")
        _commit(a)
        clone = a.dir / "clone"
        a.c.git(a.dir, "clone", "-q", str(a.repo), str(clone))
        done = a.lg("pull", "-r", a.remote.as_uri(), cwd=clone)
        a.notes.append(f"pull: exit {done.rc}: {done.short(200)}")

    @attack("hard link to a victim file in an output", "out/f.txt replaced by a hard link to a victim file; "
            "the restore must replace it, not write into the victim's inode")
    def _(a: Attack) -> None:
        write(a.repo, "pipelines/p.yaml", "version: 1\nstages:\n  a:\n    cmd: mkdir -p out && echo ours > out/f.txt\n"
              "    outs: [out]\n")
        a.lg("run", "--json", expect=(0,))
        (a.repo / "out/f.txt").unlink()
        os.link(a.victim / "a.txt", a.repo / "out/f.txt")
        a.lg("run", "--json", expect=(0,))
        a.lg("gc")

    # -- committed or planted links to lockgate's own files ------------------------------
    @attack("committed .gitignore link, then lockgate add", ".gitignore is a committed link to a victim file; "
            "`lockgate add data` appends /data to .gitignore")
    def _(a: Attack) -> None:
        (a.repo / "data").mkdir()
        (a.repo / "data/x.csv").write_text("x\n1\n")
        (a.repo / ".gitignore").symlink_to(a.victim / "a.txt")
        a.lg("add", "data")

    @attack("committed registry/audit.jsonl link (dangling)", "registry/audit.jsonl is a committed link to a "
            "victim path that does not exist; a run promotes a model")
    def _(a: Attack) -> None:
        _ml_project(a)
        (a.repo / "registry").mkdir()
        (a.repo / "registry/audit.jsonl").symlink_to(a.victim / "audit.jsonl")
        done = a.lg("run", "--json")
        a.notes.append(f"run: {_outcomes(done)}")

    @attack("committed registry/audit.jsonl link (empty file)", "registry/audit.jsonl is a link to an existing, "
            "empty victim file; a run promotes a model")
    def _(a: Attack) -> None:
        _ml_project(a)
        (a.repo / "registry").mkdir()
        (a.repo / "registry/audit.jsonl").symlink_to(a.victim / "empty.log")
        done = a.lg("run", "--json")
        a.notes.append(f"run: {_outcomes(done)}")

    @attack("committed registry folder link", "registry/ is a committed link to the victim folder; a run "
            "promotes a model (registry/NAME.yaml and the audit log)")
    def _(a: Attack) -> None:
        _ml_project(a)
        (a.repo / "registry").symlink_to(a.victim)
        done = a.lg("run", "--json")
        a.notes.append(f"run: {_outcomes(done)}")

    @attack("committed registry/NAME.yaml link", "registry/demo.yaml is a link to a victim file; a run promotes")
    def _(a: Attack) -> None:
        _ml_project(a)
        (a.repo / "registry").mkdir()
        (a.repo / "registry/demo.yaml").symlink_to(a.victim / "empty.log")
        done = a.lg("run", "--json")
        a.notes.append(f"run: {_outcomes(done)}")

    @attack("committed pipelines/p.lock link", "the lock file is a link to a victim file; a run writes the lock")
    def _(a: Attack) -> None:
        write(a.repo, "pipelines/p.yaml", "version: 1\nstages:\n  a: {cmd: 'echo one > o1.txt', outs: [o1.txt]}\n")
        (a.repo / "pipelines/p.lock").symlink_to(a.victim / "a.txt")
        a.lg("run", "--json")

    @attack("committed data.lock link", "data.lock is a link to a victim file; `lockgate add` rewrites it")
    def _(a: Attack) -> None:
        (a.repo / "d.txt").write_text("data\n")
        (a.repo / "data.lock").symlink_to(a.victim / "a.txt")
        a.lg("add", "d.txt")

    @attack("committed pipelines folder link", "pipelines/ is a link to a victim folder holding a spec; a run "
            "writes the lock next to it")
    def _(a: Attack) -> None:
        shutil.rmtree(a.repo / "pipelines")
        (a.repo / "pipelines").symlink_to(a.victim / "pipes")
        a.lg("run", "--json")

    @attack("committed params_file link", "params_file is a link to a victim file: is it read, and does an "
            "error message repeat its bytes?")
    def _(a: Attack) -> None:
        (a.repo / "params.yaml").symlink_to(a.victim / "a.txt")
        write(a.repo, "pipelines/p.yaml", "version: 1\nparams_file: params.yaml\nstages:\n  a: {cmd: echo}\n")
        done = a.lg("validate")
        if SECRET.decode() in done.err + done.out:
            a.notes.append("the victim's bytes appear in lockgate's output (read through the link)")

    @attack(".lockgate is a link out", ".lockgate (lockgate's state folder) is a link to the victim folder, "
            "as a committed symlink would make it; a run")
    def _(a: Attack) -> None:
        write(a.repo, "pipelines/p.yaml", "version: 1\nstages:\n  a: {cmd: 'echo one > o1.txt', outs: [o1.txt]}\n")
        (a.repo / ".lockgate").symlink_to(a.victim)
        a.lg("run", "--json")

    @attack("planted link for a stage log", ".lockgate/logs/p/a.log is a link to a victim file; a run writes "
            "the stage's log")
    def _(a: Attack) -> None:
        write(a.repo, "pipelines/p.yaml", "version: 1\nstages:\n  a: {cmd: 'echo one > o1.txt', outs: [o1.txt]}\n")
        (a.repo / ".lockgate/logs/p").mkdir(parents=True)
        (a.repo / ".lockgate/logs/p/a.log").symlink_to(a.victim / "a.txt")
        a.lg("run", "--json")

    @attack("planted link for the cache's tmp folder", ".lockgate/cache/objects/tmp is a link to the victim "
            "folder; a run, then gc (which removes stale temporary files)")
    def _(a: Attack) -> None:
        write(a.repo, "pipelines/p.yaml", "version: 1\nstages:\n  a: {cmd: 'echo one > o1.txt', outs: [o1.txt]}\n")
        a.lg("run", "--json", expect=(0,))
        tmp = a.repo / ".lockgate/cache/objects/tmp"
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.symlink_to(a.victim)
        a.lg("run", "--json", "-f")
        a.lg("gc")

    @attack("planted cache object linking to a victim file", "a cache object that is a link to a victim file "
            "(named by the victim's own hash), then verify --all and gc")
    def _(a: Attack) -> None:
        write(a.repo, "pipelines/p.yaml", "version: 1\nstages:\n  a: {cmd: 'echo one > o1.txt', outs: [o1.txt]}\n")
        a.lg("run", "--json", expect=(0,))
        wrong = a.repo / ".lockgate/cache/objects/ab" / ("c" * 62)
        wrong.parent.mkdir(parents=True, exist_ok=True)
        wrong.symlink_to(a.victim / "a.txt")  # a name that is not its hash: verify drops it
        right_digest = _digest_bytes((a.victim / "deep/b.txt").read_bytes())
        right = a.repo / ".lockgate/cache/objects" / right_digest[:2] / right_digest[2:]
        right.parent.mkdir(parents=True, exist_ok=True)
        right.symlink_to(a.victim / "deep/b.txt")
        a.lg("verify", "--all")
        a.lg("gc")
        a.lg("push", "-r", a.remote.as_uri())
        hits = files_holding(a.remote, SECRET)
        if hits:
            a.notes.append("pushed through the planted link")

    # -- models ------------------------------------------------------------------------------
    for use in ("predict", "promote"):
        items.append((f"forged model object with an untrusted type -> {use}", "a lockgate model object whose skops "
                      "payload holds src.evil.Evil (its __setstate__ would create a canary) is named by the lock as "
                      f"train's model; `{use}` is given it, then `lockgate show model`",
                      lambda a, use=use: _forged_model(a, use)))


    def pickle_attack(suffix: str, stage: str):
        def run(a: Attack) -> None:
            canary = a.dir / "canary"
            canary.mkdir()
            marker = canary / f"pickle{suffix or '-none'}"
            write(a.repo, "src/__init__.py", "")
            write(a.repo, "src/mk.py", "import os, pickle, sys\n\n\nclass P:\n    def __reduce__(self):\n"
                  f"        return (os.system, ('touch {marker}',))\n\n\n"
                  "import pyarrow as pa, pyarrow.parquet as pq\n"
                  "pq.write_table(pa.table({'a': [0.0, 1.0, 2.0, 3.0], 'y': [0, 0, 1, 1]}), 'test.parquet')\n"
                  f"open('model{suffix}', 'wb').write(pickle.dumps(P(), protocol=int(sys.argv[1])))\n")
            proto = "0" if suffix == "" else "4"
            body = {"predict": "uses: predict\n    in: {model: MODEL, table: test.parquet}\n    out: [pred]",
                    "evaluate": "uses: evaluate\n    in: {model: MODEL, table: test.parquet}\n    with: {target: y}\n"
                                "    out: [scores]",
                    "promote": "uses: promote\n    in: {model: MODEL}\n    with: {model_name: demo}"}[stage]
            write(a.repo, "pipelines/p.yaml", f"version: 1\nstages:\n  make:\n    cmd: python src/mk.py {proto}\n"
                  f"    deps: [src/mk.py]\n    outs: [model{suffix}, test.parquet]\n  use:\n    "
                  + body.replace("MODEL", f"model{suffix}") + "\n")
            done = a.lg("run", "--json", "-k")
            a.notes.append(f"run: {_outcomes(done)}")
            if stage == "promote":
                a.lg("registry", "list")
            if any(canary.iterdir()):
                a.problems.append("the pickle's code ran (canary created)")
        return run

    for suffix, stage in ((".pkl", "predict"), (".pkl", "evaluate"), (".bin", "predict"), (".joblib", "evaluate"),
                          (".skops", "predict"), ("", "predict"), (".pkl", "promote")):
        items.append((f"pickle model file{suffix or ' (protocol 0, no suffix)'} -> {stage}",
                      f"a cmd stage writes model{suffix}, a pickle whose loading would run os.system; "
                      f"`{stage}` is given it (trust_pickle not set)", pickle_attack(suffix, stage)))
    return items


def _forged_model(a: Attack, use: str) -> None:
    """A model object forged in the cache (skops payload of an untrusted type), named by the lock."""
    _ml_project(a, predict=use == "predict")
    canary = a.dir / "canary"
    canary.mkdir()
    write(a.repo, "src/evil.py", "import os\n\n\nclass Evil:\n    def __init__(self):\n        self.x = 1\n\n"
          "    def __setstate__(self, state):\n"
          f"        open(os.path.join({str(canary)!r}, 'skops-evil'), 'w').write('pwned')\n"
          "        self.__dict__.update(state)\n\n"
          "    def predict(self, X):\n        return X\n")
    a.lg("run", "--json", expect=(0,))
    forged = a.dir / "forged.model"
    done = run_proc([PY, "-c", "import sys; from lockgate.store.models import encode_model; "
                     "from src.evil import Evil; open(sys.argv[1], 'wb').write(encode_model(Evil()))",
                     str(forged)], a.repo, a.c.env, 120)
    if done.rc != 0:
        a.problems.append(f"could not forge the model: {done.err[-300:]}")
        return
    digest = _put_object(a.repo / ".lockgate/cache", forged.read_bytes())
    forged.unlink()
    data = _lock(a.repo, "ml")
    data["stages"]["train"]["outputs"]["model"] = {"kind": "model", "digest": digest,
                                                   "meta": {"class": "src.evil.Evil"}}
    _write_lock(a.repo, data, "ml")
    _drop_runcache(a.repo)
    done = a.lg("run", "--json")
    a.notes.append(f"run: {_outcomes(done)}")
    a.lg("show", "model")
    if use == "promote":
        a.lg("registry", "list")
        a.lg("registry", "export", "demo", "production", str(a.repo / "exported.model"))
    if any(canary.iterdir()):
        a.problems.append("the untrusted type's code ran (canary created)")


def _table_objects_hold(a: Attack, needle: bytes) -> None:
    """Table objects are compressed: read each table object in the cache and look for
    ``needle`` in its text columns."""
    code = ("import sys, pyarrow as pa, pathlib\nhits = []\n"
            "for p in pathlib.Path(sys.argv[1]).rglob('*'):\n"
            "    if p.is_file() and not p.is_symlink():\n"
            "        try:\n            t = pa.ipc.open_file(pa.memory_map(str(p))).read_all()\n"
            "        except Exception:\n            continue\n"
            "        if sys.argv[2] in str(t.to_pydict()):\n            hits.append(p.name)\n"
            "print(len(hits))\n")
    done = run_proc([PY, "-c", code, str(a.repo / ".lockgate/cache/objects"), needle.decode()], a.dir, a.c.env, 120)
    if done.out.strip() not in ("0", ""):
        a.problems.append(f"{done.out.strip()} table objects in the cache hold the victim's bytes")


ML_DATA = """import polars as pl


def data():
    return pl.DataFrame({'x': [0.0, 1.0, 2.0, 3.0] * 5, 'y': [0, 0, 1, 1] * 5})
"""


def _ml_project(a: Attack, predict: bool = False) -> None:
    write(a.repo, "src/__init__.py", "")
    write(a.repo, "src/ml.py", ML_DATA)
    last = ("  predict:\n    uses: predict\n    in: {model: model, table: table}\n    out: [pred]\n" if predict else
            "  deploy:\n    uses: promote\n    in: {model: model}\n    with: {model_name: demo, alias: production}\n")
    write(a.repo, "pipelines/ml.yaml", "version: 1\nstages:\n  data: {call: 'src.ml:data', out: [table]}\n"
          "  train:\n    uses: train\n    in: {table: table}\n"
          "    with: {target: y, estimator: sklearn.linear_model.LogisticRegression}\n    out: [model]\n" + last)


def run_attack(c: Campaign, name: str, what: str, fn: Callable[[Attack], None]) -> dict[str, Any]:
    a = Attack(c, name, what)
    started = time.monotonic()
    try:
        fn(a)
    except Exception as exc:  # noqa: BLE001 - the campaign's own failure, reported with the attack
        a.problems.append(f"campaign error: {type(exc).__name__}: {exc}")
    res = a.result()
    res["seconds"] = round(time.monotonic() - started, 1)
    if res["safe"]:
        shutil.rmtree(a.dir, ignore_errors=True)
    else:
        res["kept"] = str(a.dir)
    return res


def section_attacks(c: Campaign) -> dict[str, Any]:
    items = attacks_list()
    if c.quick:
        items = items[::3]
    print(f"\n== 3. path, symlink and trust attacks: {len(items)} ==", flush=True)
    started = time.monotonic()
    with concurrent.futures.ThreadPoolExecutor(c.jobs) as pool:
        results = list(pool.map(lambda item: run_attack(c, *item), items))
    elapsed = time.monotonic() - started
    for r in results:
        print(f"  {'safe  ' if r['safe'] else 'UNSAFE'} {r['name']}")
        for p in r["problems"]:
            print(f"         ! {p}")
        for n in r["notes"]:
            print(f"         . {n[:300]}")
    safe = sum(1 for r in results if r["safe"])
    commands = sum(len(r["steps"]) for r in results)
    print(f"attacks: {len(results)}, safe: {safe}, unsafe: {len(results) - safe}; lockgate commands: {commands}; "
          f"{elapsed:.0f} s")
    return {"attacks": results, "count": len(results), "safe": safe, "commands": commands,
            "seconds": round(elapsed, 1)}


# ============================================================================================
# 4. hostile gate expressions
# ============================================================================================

GATE_CODE = """
def metrics():
    return {"acc": 0.9, "zero": 0, "neg": -1.5, "big": 1e308, "flag": True,
            "nested": {"a": 1.0, "b": {"c": 2}}}


def info():
    return {"name": "x", "items": [1, 2], "n": 3}
"""

GATE_SPEC = """version: 1
params: {thr: 0.5, evil: "__import__('os').system('touch CANARY/param')", lst: [1, 2]}
stages:
  produce: {call: 'src.g:metrics', out: [m]}
  info: {call: 'src.g:info', out: [j]}
"""


def hostile_exprs(canary: str) -> list[tuple[str, str, str, tuple[str, ...]]]:
    """(label, expression, expected 'spec'|'stage'|'either', -p args)."""
    c = canary
    sp, st = "spec", "stage"
    out: list[tuple[str, str, str, tuple[str, ...]]] = []

    def e(label: str, expr: str, kind: str = sp, args: tuple[str, ...] = ()) -> None:
        out.append((label, expr, kind, args))

    # code execution attempts
    e("__import__ call", f"__import__('os').system('touch {c}/import') == 0")
    e("open() call", f"open('{c}/open', 'w') != 0")
    e("exec()", f"exec(\"open('{c}/exec', 'w')\") == 0")
    e("eval()", f"eval(\"open('{c}/eval', 'w')\") == 0")
    e("compile()", "compile('1', 'x', 'eval') == 0")
    e("getattr()", "getattr(m, 'acc') > 0")
    e("breakpoint()", "breakpoint() == 0")
    e("globals()", "globals() == 0")
    e("method call on a ref", "m.acc.hex() == 0")
    e("method call on a string", "'{}'.format(1) == '1'")
    e("call on a number", "(1)() == 0")
    e("lambda called", f"(lambda: open('{c}/lambda', 'w'))() == 0")
    e("lambda alone", "lambda: 1")
    e("list comprehension", f"[open('{c}/listcomp', 'w') for _ in (1,)] == 0")
    e("set comprehension", f"{{open('{c}/setcomp', 'w') for _ in (1,)}} == 0")
    e("dict comprehension", f"{{k: open('{c}/dictcomp', 'w') for k in (1,)}} == 0")
    e("generator", f"(open('{c}/gen', 'w') for _ in (1,)) == 0")
    e("walrus", f"(x := open('{c}/walrus', 'w')) == 0")
    e("f-string", f"f\"{{open('{c}/fstring', 'w')}}\" == ''")
    e("f-string with a ref", "f'{m.acc}' == '0.9'")
    e("ternary", f"m.acc if open('{c}/ternary', 'w') else 0")
    e("await", "await m.acc")
    e("yield", "(yield 1)")
    e("starred", "[*m] == 0")
    e("import statement", "import os")
    e("two statements", "m.acc > 0; import os")
    e("assignment", "x = 1")
    e("multi-line", "m.acc\n> 0")
    # dunders and attribute tricks
    e("dunder on a ref", "m.__class__ == 0")
    e("dunder chain", "m.__class__.__init__.__globals__ == 0")
    e("__builtins__", "__builtins__ == 0")
    e("dunder base", "__import__ == 0")
    e("subclasses escape", "().__class__.__bases__[0].__subclasses__() == 0")
    e("attribute on a constant", "(1).real == 1")
    e("attribute on a string", "'x'.upper == 0")
    e("fullwidth dunder (NFKC)", "\uff3f\uff3fimport\uff3f\uff3f('os') == 0")
    e("dunder key of a ref", "m.acc.__class__ > 0")
    # subscripts and containers
    e("subscript", "m['acc'] > 0")
    e("subscript of a ref", "m.acc[0] > 0")
    e("slice", "j.items[::-1] == 0")
    e("tuple", "(1, 2) == (1, 2)")
    e("list literal", "[1] == [1]")
    e("dict literal", "{1: 2} == {}")
    e("set literal", "{1} == {1}")
    e("None", "None == None")
    e("Ellipsis", "... == ...")
    e("bytes literal", "b'x' == b'x'")
    e("complex literal", "1j == 1j")
    # operators
    e("power", "2 ** 100000000 > 1")
    e("power of a ref", "m.acc ** 2 > 0")
    e("modulo", "m.acc % 2 == 0")
    e("string % formatting", "'%s' % m.acc == 'x'")
    e("floor division", "m.acc // 1 == 0")
    e("left shift", "1 << 100000000 > 0")
    e("bitwise or", "m.acc | 1 > 0")
    e("bitwise and", "m.acc & 1 > 0")
    e("bitwise xor", "m.acc ^ 1 > 0")
    e("invert", "~m.zero > 0")
    e("matmul", "m.acc @ m.acc > 0")
    e("in", "'acc' in m")
    e("not in", "m.acc not in (1, 2)")
    e("is", "m.acc is None")
    e("is not", "m.acc is not 1")
    # string arithmetic
    e("string times a billion", "'x' * 1000000000 == 'y'")
    e("string plus string", "'a' + 'b' == 'ab'")
    e("negated string", "-'a' == 1")
    e("bool arithmetic", "true + 1 > 0")
    # names and references
    e("bare name", "x > 1")
    e("unknown artifact", "nothing.acc > 0")
    e("unknown alias", "production.acc > 0")
    e("a param name as a reference", "thr.x > 0")
    # sizes
    e("1,001 characters", "m.acc > " + "0" * 993)
    e("1,000-term sum", " + ".join(["1"] * 1000) + " > 0")
    e("201 references", " + ".join(["m.acc"] * 201) + " > 0")
    e("1 MB expression", "1 " + "+ 1 " * 250_000 + "> 0")
    e("400 nested parentheses", "(" * 400 + "m.acc" + ")" * 400 + " > 0")
    e("300 unary minuses", "-" * 300 + "m.acc > 0")
    e("300 nots", "not " * 300 + "m.acc")
    e("NUL character", "m.acc > 0\x00")
    e("empty expression", "")
    e("only spaces", "   ")
    # runtime (the stage fails naming the key)
    e("missing key", "m.nope > 0", st)
    e("missing nested key", "m.nested.zz > 0", st)
    e("a mapping where a number belongs", "m.nested > 0", st)
    e("a key under a number", "m.acc.deep > 0", st)
    e("500-level attribute chain", "m." + ".".join(["k"] * 480) + " > 0", st)
    e("division by zero", "m.acc / m.zero > 0", st)
    e("float overflow of a ref", "m.big * m.big > 0", st)
    e("float overflow of constants", "1e308 * 10 > 0", "either")
    e("float overflow, then compared", "m.big * 10 > m.big", st)
    e("bool ref in arithmetic", "m.flag + 1 > 0", st)
    e("compare number with text", "m.acc > 'x'", "either")
    e("text ref times a billion", "j.name * 1000000000 == 'y'", "either")
    e("list ref in arithmetic", "j.items * 1000000000 == 1", "either")
    e("negated text ref", "-j.name == 'x'", "either")
    e("text ref compared with a number", "j.name > 1", "either")
    e("missing key of a JSON artifact", "j.nope > 0", "either")
    # injection through params and -p
    e("param holding code", "m.acc > ${evil}")
    e("list param in an expression", "m.acc > ${lst}")
    e("-p injecting a call", "m.acc > ${thr}", sp, ("-p", f"thr=0 or open('{c}/p-open', 'w')"))
    e("-p injecting a dunder", "m.acc > ${thr}", sp, ("-p", "thr=m.__class__"))
    e("-p injecting a second gate", "m.acc > ${thr}", sp, ("-p", f"thr=0) or (__import__('os').system('touch {c}/p2')"))
    e("-p injecting a comprehension", "m.acc > ${thr}", sp, ("-p", f"thr=[open('{c}/p3','w') for _ in (1,)]"))
    return out


def run_gate_case(c: Campaign, warm: Path, index: int, label: str, expr: str, kind: str,
                  args: tuple[str, ...], where: str, canary: Path) -> dict[str, Any]:
    folder = c.root / "gates" / f"{index:03d}"
    repo = folder / "repo"
    shutil.copytree(warm, repo, symlinks=True)
    field_text = json.dumps(expr)  # a YAML double-quoted scalar
    if where == "gates":
        stage = f"  gated:\n    cmd: 'echo ran > gated.txt'\n    outs: [gated.txt]\n    gates: [{field_text}]\n"
    else:
        stage = f"  gated:\n    cmd: 'echo ran > gated.txt'\n    outs: [gated.txt]\n    when: {field_text}\n"
    spec = GATE_SPEC.replace("CANARY", str(canary)) + stage
    write(repo, "pipelines/p.yaml", spec)
    before = snapshot(repo, skip_top=(".git", ".lockgate", "pipelines"))
    done = c.lg(repo, "run", "--json", *args, timeout=60)
    problems: list[str] = []
    outcome = ""
    message = ""
    if done.timed_out:
        problems.append("timed out")
    if "Traceback" in done.err or "Traceback" in done.out:
        problems.append("traceback")
    log = repo / ".lockgate/logs/p/gated.log"
    if log.exists() and "Traceback" in log.read_text(errors="replace"):
        problems.append("traceback in the stage log")
    if done.rc == 2:
        outcome = "spec error"
        lines, _ = error_lines_problems(done.err, repo)
        problems += lines
        message = done.err.strip().splitlines()[0] if done.err.strip() else ""
        if kind == "stage":
            outcome += " (expected a stage failure)"
    elif done.rc == 1:
        outcome = "stage failed"
        try:
            stages = {s["stage"]: s for s in json.loads(done.out)["stages"]}
            gated = stages["gated"]
            message = gated.get("message") or ""
            if gated["outcome"] != "failed":
                problems.append(f"gated stage outcome {gated['outcome']!r}")
            others = {k: v["outcome"] for k, v in stages.items() if k != "gated" and v["outcome"] == "failed"}
            if others:
                problems.append(f"other stages failed: {others}")
            if "\n" in message.strip() or len(message) > MAX_LINE:
                problems.append("the message is not one short line")
            keys = re.findall(r"\b([mj](?:\.[A-Za-z_]\w*)+)", expr)
            if keys and not any(k in message or k.split(".")[-1] in message for k in keys):
                problems.append("the message names no key the expression reads")
        except (ValueError, KeyError, TypeError):
            problems.append(f"run --json output is not the expected JSON: {done.out[:200]!r}")
        if kind == "spec":
            outcome += " (expected a spec error)"
    else:
        outcome = f"exit {done.rc}"
        problems.append(f"exit {done.rc}: the expression was evaluated "
                        f"({'it held: the stage ran' if done.rc == 0 else 'a gate decision'})")
    if (repo / "gated.txt").exists():
        problems.append("the gated stage ran")
    executed = sorted(p.name for p in canary.iterdir())
    if executed:
        problems.append(f"CODE RAN: canary files {executed}")
        for p in canary.iterdir():
            p.unlink()
    after = snapshot(repo, skip_top=(".git", ".lockgate", "pipelines"))
    if after != before:
        problems.append("wrote in the repository: " + snapshot_diff(before, after))
    res = {"label": label, "where": where, "expr": expr if len(expr) <= 200 else expr[:200] + "...",
           "args": list(args), "expected": kind, "exit": done.rc, "outcome": outcome, "message": message[:400],
           "seconds": round(done.secs, 3), "clean": not problems, "problems": problems}
    if not problems:
        shutil.rmtree(folder, ignore_errors=True)
    else:
        res["kept"] = str(folder)
        res["stderr"] = done.err[:1000]
    return res


def section_gates(c: Campaign) -> dict[str, Any]:
    base = c.root / "gates"
    canary = base / "canary"
    canary.mkdir(parents=True)
    warm = c.new_repo(base / "warm")
    write(warm, "src/__init__.py", "")
    write(warm, "src/g.py", GATE_CODE)
    write(warm, "pipelines/p.yaml", GATE_SPEC.replace("CANARY", str(canary)))
    done = c.lg(warm, "run", "--json", timeout=120)
    if done.rc != 0:
        raise RuntimeError(f"gate producers failed: {done.err}")
    exprs = hostile_exprs(str(canary))
    jobs = [(label, expr, kind, args, where) for i, (label, expr, kind, args) in enumerate(exprs)
            for where in (("gates", "when") if i % 2 == 0 else ("gates",))]
    if c.quick:
        jobs = jobs[::5]
    print(f"\n== 4. hostile gate expressions: {len(exprs)} expressions, {len(jobs)} runs (each as a gate, every "
          "other one also as when:) ==", flush=True)
    started = time.monotonic()
    with concurrent.futures.ThreadPoolExecutor(c.jobs) as pool:
        results = list(pool.map(lambda ij: run_gate_case(c, warm, ij[0], *ij[1], canary=canary), enumerate(jobs)))
    elapsed = time.monotonic() - started
    clean = [r for r in results if r["clean"]]
    spec_errors = sum(1 for r in results if r["exit"] == 2)
    failures = sum(1 for r in results if r["exit"] == 1)
    ran_code = [r for r in results if any("CODE RAN" in p for p in r["problems"])]
    unexpected_kind = [r for r in results if "(expected" in r["outcome"]]
    print(f"runs: {len(results)}, clean: {len(clean)} ({spec_errors} spec errors exit 2, {failures} stage failures "
          f"exit 1); code executed: {len(ran_code)}; slowest {max(r['seconds'] for r in results):.2f} s; "
          f"{elapsed:.0f} s")
    for r in results:
        if not r["clean"]:
            print(f"  NOT CLEAN [{r['where']}] {r['label']}: {r['outcome']}: {'; '.join(r['problems'])}")
            print(f"      | {r['message'][:300]}")
    for r in unexpected_kind:
        if r["clean"]:
            print(f"  note [{r['where']}] {r['label']}: {r['outcome']}: {r['message'][:200]}")
    shutil.rmtree(warm, ignore_errors=True)
    return {"runs": results, "count": len(results), "expressions": len(exprs), "clean": len(clean),
            "spec_errors": spec_errors, "stage_failures": failures, "code_executed": len(ran_code),
            "seconds": round(elapsed, 1)}


# ============================================================================================


def use_source(root: Path, rev: str | None) -> dict[str, Any]:
    """Which lockgate runs. With ``rev``: that commit's ``src/`` extracted under ``root``
    and put first on the path (ours now, the subprocesses' through PYTHONPATH)."""
    import io
    import tarfile

    checkout = Path(__file__).resolve().parents[1]

    def git(*args: str) -> str:
        done = subprocess.run(["git", "-C", str(checkout), *args], capture_output=True, timeout=60)
        return done.stdout.decode().strip() if done.returncode == 0 else ""

    if rev is None:
        dirty = [line for line in git("status", "--porcelain", "--", "src").splitlines() if line.strip()]
        commit = git("rev-parse", "--short", "HEAD")
        return {"kind": "importable", "commit": commit, "dirty_files": len(dirty),
                "describe": f"the importable lockgate; checkout at {commit or '?'}"
                            + (f" with {len(dirty)} uncommitted files under src/" if dirty else "")}
    commit = git("rev-parse", "--verify", f"{rev}^{{commit}}")
    if not commit:
        raise SystemExit(f"--snapshot: no commit {rev!r} in {checkout}")
    data = subprocess.run(["git", "-C", str(checkout), "archive", "--format=tar", commit, "src/lockgate"],
                          capture_output=True, timeout=120, check=True).stdout
    target = root / "lockgate-src"
    with tarfile.open(fileobj=io.BytesIO(data)) as archive:
        archive.extractall(target, filter="data")
    sys.path.insert(0, str(target / "src"))
    return {"kind": "snapshot", "commit": commit[:12], "pythonpath": str(target / "src"),
            "describe": f"src/ as committed at {commit[:12]}"}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="fewer kills and gate runs (~2-3 min)")
    parser.add_argument("--kills", type=int, default=None, help="SIGKILLs to land (default 45; 4 with --quick)")
    parser.add_argument("--snapshot", metavar="REV", default=None,
                        help="run lockgate's source as committed at REV (git archive of src/ into the work folder, "
                             "put first on PYTHONPATH) instead of the importable one, e.g. while others edit the "
                             "working tree")
    parser.add_argument("--seed", type=int, default=None, help="seed of the kill delays (default: from the clock)")
    parser.add_argument("--only", default="specs,kills,attacks,gates", help="sections to run, comma-separated")
    parser.add_argument("--jobs", type=int, default=2, help="cases run at once in sections 1, 3 and 4 (default 2)")
    parser.add_argument("--json", dest="json_out", type=Path, default=None, help="write every result here")
    parser.add_argument("--workdir", type=Path, default=None, help="parent of the campaign's temporary folder")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder")
    opts = parser.parse_args(argv)
    seed = opts.seed if opts.seed is not None else int(time.time()) % 1_000_000
    kills = opts.kills if opts.kills is not None else (4 if opts.quick else 45)
    root = Path(tempfile.mkdtemp(prefix="lockgate-adversarial-", dir=opts.workdir)).resolve()
    sections = [s.strip() for s in opts.only.split(",") if s.strip()]
    source = use_source(root, opts.snapshot)
    import lockgate

    meta = {
        "date": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "lockgate": getattr(lockgate, "__version__", "?"), "python": platform.python_version(),
        "cpus": os.cpu_count(), "quick": opts.quick, "seed": seed, "workdir": str(root),
        "load_average_start": [round(x, 2) for x in os.getloadavg()], "source": source,
        "command": " ".join([Path(sys.argv[0]).name] + (argv if argv is not None else sys.argv[1:])),
    }
    print(f"lockgate adversarial campaign: {meta['date']}, lockgate {meta['lockgate']} ({source['describe']}), "
          f"Python {meta['python']}, {meta['cpus']} cpus, load {meta['load_average_start']}, seed {seed}, "
          f"work folder {root}", flush=True)
    c = Campaign(root, opts.quick, seed, opts.jobs)
    if source.get("pythonpath"):
        c.env["PYTHONPATH"] = source["pythonpath"]
    results: dict[str, Any] = {"meta": meta}
    started = time.monotonic()
    try:
        if "specs" in sections:
            results["specs"] = section_specs(c)
        if "kills" in sections:
            load_before = os.getloadavg()
            results["kills"] = section_kills(c, kills)
            results["kills"]["load_average_before"] = [round(x, 2) for x in load_before]
            results["kills"]["load_average_after"] = [round(x, 2) for x in os.getloadavg()]
        if "attacks" in sections:
            results["attacks"] = section_attacks(c)
        if "gates" in sections:
            results["gates"] = section_gates(c)
    finally:
        leftover = kill_ours(c.token)
        if leftover:
            print(f"(killed {leftover} leftover processes of this campaign)")
    meta["seconds"] = round(time.monotonic() - started, 1)
    meta["load_average_end"] = [round(x, 2) for x in os.getloadavg()]

    rows = []
    all_clean = True
    if "specs" in results:
        s = results["specs"]
        rows.append(("hostile specs", f"{s['count']} specs ({s['commands']} commands)",
                     f"{s['clean']} clean errors", s["count"] - s["clean"],
                     f"slowest {s['slowest'][0]['seconds']:.2f} s ({s['slowest'][0]['label']})"))
        all_clean &= s["clean"] == s["count"]
    if "kills" in results:
        k = results["kills"]
        bad = k["kills"] - k["ok"]
        rows.append(("random SIGKILLs", f"{k['kills']} kills (seed {k['seed']})",
                     f"{k['corrupt_objects']} corrupt, {k['missing_objects']} missing; "
                     f"{k['recoveries_identical']} identical recoveries", bad,
                     f"T = {k['window_seconds']:.1f} s; stage processes gone within "
                     f"{k['max_seconds_until_stage_processes_gone']:.2f} s"))
        all_clean &= bad == 0
    if "attacks" in results:
        a = results["attacks"]
        rows.append(("path/symlink/trust attacks", f"{a['count']} attacks ({a['commands']} commands)",
                     f"{a['safe']} safe", a["count"] - a["safe"], "victim checked after every command"))
        all_clean &= a["safe"] == a["count"]
    if "gates" in results:
        g = results["gates"]
        rows.append(("hostile gate expressions", f"{g['expressions']} expressions, {g['count']} runs",
                     f"{g['clean']} clean ({g['spec_errors']} exit 2, {g['stage_failures']} exit 1)",
                     g["count"] - g["clean"], f"code executed: {g['code_executed']}"))
        all_clean &= g["clean"] == g["count"]
    print(f"\n== summary ({meta['seconds']:.0f} s; load average {meta['load_average_start']} -> "
          f"{meta['load_average_end']}; seed {seed}) ==")
    print("| campaign | tried | outcome | not clean | notes |")
    print("| --- | --- | --- | ---: | --- |")
    for row in rows:
        print("| " + " | ".join(str(x) for x in row) + " |")
    results["summary"] = [dict(zip(("campaign", "tried", "outcome", "not_clean", "notes"), r)) for r in rows]
    if opts.json_out:
        opts.json_out.parent.mkdir(parents=True, exist_ok=True)
        opts.json_out.write_text(json.dumps(results, indent=2, default=str))
        print(f"results: {opts.json_out}")
    if all_clean and not opts.keep:
        shutil.rmtree(root, ignore_errors=True)
    else:
        print(f"work folder kept: {root}")
    return 0 if all_clean else 1


if __name__ == "__main__":
    sys.exit(main())
