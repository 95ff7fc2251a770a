"""Reading lock files at git revisions, without a checkout and without the cache.

A revision's lock files are listed with ``git ls-tree`` and read in one
``git cat-file --batch`` process, so comparing two commits costs two git
calls whatever the number of pipelines. Paths are given relative to the
project root (``REV:./pipelines/x.lock``), so a lockgate project inside a
subfolder of a larger repository works too. The workspace is the revision
``None``.

Every git command lockgate runs goes through this module (``git`` and the
helpers on it: HEAD and the author for audit records and promotions, every
commit's lock and registry files for ``gc --all-commits``). It never checks
out or stashes.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

from lockgate.errors import UsageError
from lockgate.lock import LockFile

WORKSPACE = "workspace"
"""How the workspace is named in reports (and accepted on the command line)."""


def git(root: Path, *args: str, stdin: str | None = None, check: bool = True,
        timeout: float | None = None) -> str:
    """Run git in ``root`` and return its output; a failure becomes a one-line
    UsageError, or with ``check=False`` an empty output (git missing, not a
    repository, a non-zero exit, ``timeout`` seconds passed)."""
    try:
        done = subprocess.run(["git", *args], cwd=root, input=stdin, capture_output=True,
                              text=True, check=False, timeout=timeout)
    except FileNotFoundError as exc:
        if not check:
            return ""
        raise UsageError("git is not installed (or not on PATH)") from exc
    except (OSError, subprocess.SubprocessError):
        if not check:
            return ""
        raise
    if done.returncode != 0:
        if not check:
            return ""
        message = (done.stderr.strip().splitlines() or ["git failed"])[-1]
        raise UsageError(f"git {args[0]}: {message.removeprefix('fatal: ')}")
    return done.stdout


def current_commit(root: Path) -> str:
    """The commit id of HEAD, or "" outside git, before the first commit, or when git is missing."""
    return git(root, "rev-parse", "--verify", "-q", "HEAD", check=False, timeout=10).strip()


def author(root: Path) -> str:
    """``Name <email>`` git would record as the author (honouring GIT_AUTHOR_*), or ""."""
    ident = git(root, "var", "GIT_AUTHOR_IDENT", check=False, timeout=10).strip()
    parts = ident.rsplit(" ", 2)  # "Name <email> 1700000000 +0000": drop the timestamp
    return parts[0] if len(parts) == 3 and ">" in parts[0] else ""


def all_commits(root: Path) -> list[str]:
    """Every commit reachable from any ref; [] outside git."""
    return git(root, "rev-list", "--all", check=False).split()


def ls_tree(root: Path, rev: str, paths: list[str]) -> list[tuple[str, str]]:
    """(object id, path) of every file under ``paths`` at ``rev``, recursively; [] on failure."""
    entries = []
    for line in git(root, "ls-tree", "-r", rev, "--", *paths, check=False).splitlines():
        meta, _, path = line.partition("\t")
        entries.append((meta.split()[-1], path))
    return entries


def read_object(root: Path, obj: str) -> str:
    """The text of one object (a blob's content), or "" on failure."""
    return git(root, "cat-file", "-p", obj, check=False)


def is_repo(root: Path) -> bool:
    done = subprocess.run(["git", "rev-parse", "--is-inside-work-tree"], cwd=root,
                          capture_output=True, text=True, check=False)
    return done.returncode == 0 and done.stdout.strip() == "true"


def require_repo(root: Path) -> None:
    if not is_repo(root):
        raise UsageError(f"{root} is not in a git repository; run 'git init' there first")


def resolve(root: Path, rev: str) -> str:
    """The commit id ``rev`` names; UsageError when it names none."""
    require_repo(root)
    done = subprocess.run(["git", "rev-parse", "--verify", "--quiet", "--end-of-options", f"{rev}^{{commit}}"],
                          cwd=root, capture_output=True, text=True, check=False)
    if done.returncode != 0 or not done.stdout.strip():
        hint = ""
        if rev == "HEAD" or rev.startswith("HEAD"):
            hint = " (is there a commit yet?)"
        elif "/" in rev:
            hint = " (in CI, fetch it first: actions/checkout with fetch-depth: 0)"
        raise UsageError(f"unknown revision '{rev}'{hint}")
    return done.stdout.strip()


def is_workspace(rev: str | None) -> bool:
    return rev is None or rev == WORKSPACE


def lock_paths(root: Path, rev: str) -> list[str]:
    """``pipelines/NAME.lock`` paths (relative to ``root``) committed at ``rev``."""
    out = git(root, "ls-tree", "-z", "--name-only", resolve(root, rev), "--", "pipelines/")
    return sorted(p for p in out.split("\0") if p.endswith(".lock") and p.count("/") == 1)


def read_blobs(root: Path, rev: str, paths: list[str]) -> dict[str, str | None]:
    """The text of each path at ``rev`` (None where it does not exist), in one git process."""
    if not paths:
        return {}
    commit = resolve(root, rev)
    request = "".join(f"{commit}:./{p}\n" for p in paths)
    done = subprocess.run(["git", "cat-file", "--batch"], cwd=root, input=request.encode(),
                          capture_output=True, check=False)
    if done.returncode != 0:
        raise UsageError(f"git cat-file: {done.stderr.decode(errors='replace').strip()}")
    data, pos, texts = done.stdout, 0, {}
    for path in paths:
        end = data.index(b"\n", pos)
        header = data[pos:end].decode(errors="replace").split()
        pos = end + 1
        if len(header) >= 3 and header[1] == "blob":
            size = int(header[2])
            texts[path] = data[pos:pos + size].decode("utf-8", errors="replace")
            pos += size + 1  # the blob is followed by a newline
        else:  # "<object> missing", or not a blob
            texts[path] = None
    return texts


def read_text(root: Path, rev: str | None, path: str) -> str | None:
    """One file at ``rev`` (the workspace when None); None when it does not exist."""
    if is_workspace(rev):
        try:
            return (root / path).read_text(encoding="utf-8")
        except FileNotFoundError:
            return None
    return read_blobs(root, rev, [path])[path]


def read_locks(root: Path, rev: str | None, pipelines: list[str] | None = None) -> dict[str, LockFile]:
    """Pipeline name -> its lock file at ``rev`` (the workspace when None).

    With ``pipelines``, only those (a pipeline without a lock at ``rev`` is left
    out). A lock that cannot be parsed is read as empty, as ``LockFile.read`` does.
    """
    if is_workspace(rev):
        folder = root / "pipelines"
        paths = sorted(f"pipelines/{p.name}" for p in folder.glob("*.lock")) if folder.is_dir() else []
    else:
        paths = lock_paths(root, rev)
    if pipelines is not None:
        wanted = {f"pipelines/{name}.lock" for name in pipelines}
        paths = [p for p in paths if p in wanted]
    if is_workspace(rev):
        texts = {p: read_text(root, None, p) for p in paths}
    else:
        texts = read_blobs(root, rev, paths)
    locks: dict[str, LockFile] = {}
    for path, text in texts.items():
        if text is None:
            continue
        name = Path(path).stem
        locks[name] = parse_lock(text, name)
    return locks


def parse_lock(text: str, pipeline: str) -> LockFile:
    """Like ``LockFile.from_text``, but a damaged lock is an empty one (never an error)."""
    import yaml

    try:
        return LockFile.from_text(text, pipeline)
    except (ValueError, yaml.YAMLError, AttributeError, TypeError):
        return LockFile(pipeline=pipeline)
