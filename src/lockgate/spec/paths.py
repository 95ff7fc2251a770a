"""Which paths and names a spec may use, checked when it loads (limits: ``spec.limits``).

lockgate writes, restores and prunes what a stage outputs, and writes logs,
lock files and registry files named after stages, pipelines and models, so a
path or name in a spec decides where files are created or deleted. A spec must
not be able to point that outside the repository, at the repository itself,
or into ``.git/`` or ``.lockgate/``.

- ``outs`` and ``metrics`` (written), and ``params_file`` (read as spec): inside
  the repository, relative to its root, ``..`` only if it stays inside.
- ``deps`` and ``inputs`` (only read and hashed): the same, except that they may
  lie outside the repository (an absolute path, or ``../shared/data``): a
  shared data folder is legitimate. lockgate never writes, prunes or restores
  them there.
- Never the repository root itself (``.``), never a ``.git`` or ``.lockgate``
  folder; at most ``MAX_PATH_BYTES`` in all, and ``MAX_COMPONENT_BYTES`` per
  folder or file name (``MAX_NAME_BYTES`` for paths lockgate writes).
- Names that become file names (stage names with their matrix suffix, artifact
  names, the pipeline name, a ``promote`` stage's ``model_name``): at most
  ``MAX_NAME_BYTES``, and never ``.`` or ``..``.

Pure: text in, (normalized path, problem) out; nothing here touches the disk.
Every problem is a sentence saying what is wrong and how to fix it, for the
caller to prefix with where (``stage 'train': ``).
"""

from __future__ import annotations

import posixpath
import re

from lockgate.spec import limits
from lockgate.spec.limits import shown

_DRIVE = re.compile(r"^[A-Za-z]:(/|$)")
_OWN = {".git": "git's own folder", ".lockgate": "lockgate's own state folder"}
# already normal, inside, and fine when short: no component starts with '.', no '\\', ':', '//'
_PLAIN = re.compile(r"[\w@+=,-][\w.@+=,-]*(?:/[\w@+=,-][\w.@+=,-]*)*", re.ASCII)


def is_outside(path: str) -> bool:
    """A normalized path that lies outside the repository (absolute, or leading out with ``..``)."""
    return path.startswith("/") or bool(_DRIVE.match(path)) or path == ".." or path.startswith("../")


def normalize(text: str) -> str:
    """A POSIX path with ``.``, ``..`` and repeated ``/`` collapsed: ``./a/x/../b/`` -> ``a/b``.
    Repository-relative paths come out as ``graph.stage.norm_path`` makes them."""
    path = text.replace("\\", "/").strip()
    if not path:
        return ""
    path = posixpath.normpath(path)
    if path.startswith("//"):
        path = "/" + path.lstrip("/")
    return path


def check_path(text: str, what: str, *, writes: bool, inside: bool | None = None) -> tuple[str, str]:
    """(normalized path, problem) for a path a spec names; the problem is ``""`` when it is
    fine. ``writes``: lockgate writes it (outs, metrics). ``inside``: it must be inside the
    repository (default: when it writes it)."""
    inside = writes if inside is None else inside
    if isinstance(text, str) and len(text) <= limits.MAX_NAME_BYTES and _PLAIN.fullmatch(text):
        return text, ""  # the common case, quickly
    if not isinstance(text, str) or not text.strip():
        return "", f"{what} is empty; name a file or folder, relative to the repository root"
    said = f"{what} {shown(text)}"
    if "\0" in text:
        return "", f"{said} holds a NUL character; remove it"
    try:
        size = len(text.encode("utf-8"))
    except UnicodeEncodeError:
        return "", f"{said} holds a character that is not valid Unicode; remove it"
    if size > limits.MAX_PATH_BYTES:
        return "", (f"{said} is {size:,} bytes long, more than {limits.MAX_PATH_BYTES:,} "
                    "(the most a path may be); shorten it")
    path = normalize(text)
    outside = is_outside(path)
    if outside and inside:
        how = "is an absolute path" if not path.startswith("..") else "leads out of the repository"
        why = ("lockgate writes, restores and prunes it, so it must be inside the repository"
               if writes else "it must be inside the repository")
        return path, f"{said} {how}; {why}: write it relative to the repository root"
    if path == ".":
        return path, (f"{said} is the repository root itself; name the files or folders "
                      f"{'it writes' if writes else 'it reads'} inside it")
    parts = path.split("/")
    if not outside:
        own = next((p for p in parts if p in _OWN), None)
        if own is not None:
            return path, f"{said} is inside {own}/, {_OWN[own]}; use another folder"
    limit = limits.MAX_NAME_BYTES if writes else limits.MAX_COMPONENT_BYTES
    for part in parts:
        size = len(part.encode("utf-8"))
        if size > limit:
            kind = "a file or folder name lockgate writes" if writes else "a file or folder name"
            return path, (f"{said}: the name {shown(part, 30)} is {size:,} bytes long, more than {limit} "
                          f"(the most {kind} may be); shorten it")
    return path, ""


def check_name(name: str, what: str) -> str:
    """The problem with a name that becomes part of a file name (``""`` when fine); the
    caller adds the fix."""
    if name in (".", "..") or "/" in name or "\\" in name or "\0" in name:
        return f"{what} cannot be part of a file name"
    try:
        size = len(name.encode("utf-8"))
    except UnicodeEncodeError:
        return f"{what} holds a character that is not valid Unicode"
    if size > limits.MAX_NAME_BYTES:
        return (f"{what} is {size:,} bytes long, more than {limits.MAX_NAME_BYTES} "
                "(the most a name that lockgate puts in file names may be)")
    return ""
