"""A DVC project as a lockgate pipeline: ``dvc.yaml`` and its ``.dvc`` data files.

``convert`` reads a ``dvc.yaml``, the params files it uses, the repository's
``.dvc`` files and ``.dvc/config``, and returns a Conversion: the spec text for
``pipelines/NAME.yaml``, one plain sentence per thing it could not carry over
(and why), the data DVC tracked and whether it is here as DVC recorded it, and
the outputs git should ignore. ``write`` puts it in place. Nothing here edits
the team's scripts: they run unchanged, as under ``dvc repro``.

What is carried, with the DVC semantics lockgate keeps (each checked in DVC's
documentation, ``dvc.org/doc/user-guide/project-structure/dvcyaml-files``, and
source, ``iterative/dvc``):

- ``cmd`` (a string or a list run in order), ``deps``, ``outs``, ``metrics``,
  ``plots``, ``desc``: as written. Outputs are deleted before the command runs
  unless ``persist: true`` (``Stage.run`` -> ``remove_outs``); ``cache: false``
  outputs are hashed, recorded, never stored, and not git-ignored
  (``Output.use_scm_ignore``); a stage with one has no run-cache (docs, "Output
  subfields"), nor has a stage with ``persist`` or ``always_changed``
  (``stage/cache.py: _can_hash``).
- ``wdir``: the command's working folder; every path of the stage (and its
  params files) is relative to it; it defaults to the folder of ``dvc.yaml``.
- ``params``: keys of ``params.yaml`` (in the stage's wdir), ``{file: [keys]}``
  and ``{file: }`` (the whole file) entries; ``-p KEY=VALUE`` rewrites the file
  holding KEY for the run, as ``dvc exp run -S`` does.
- ``foreach``/``do`` (stages ``NAME@KEY``: a mapping's keys, a simple list's
  values, else the index; ``${item}``, ``${item.field}``, ``${key}`` for a
  mapping: ``parsing/__init__.py: ForeachDefinition``) and ``matrix``
  (``${item.AXIS}``, ``${key}``).
- ``vars``: ``params.yaml`` of the dvc.yaml folder first, then each file
  (``file.yaml:key1,key2`` imports only those top-level keys), inline mappings
  (``parsing/context.py: load_from_vars``); ``${a[0]}`` is written ``${a.0}``.
- ``frozen`` (never run; its outputs are checked), ``always_changed`` (always
  run), top-level ``metrics`` (attached to the stage writing them, so gates
  read them as ``STAGE.key``), ``plots``, ``artifacts`` and ``params``.
- ``.dvc`` files: their data becomes ``data.lock`` records when it is here and
  its md5 is the one the ``.dvc`` file records (DVC's directory hash: the md5 of
  the sorted ``[{"md5", "relpath"}]`` JSON, ``dvc_data.hashfile.tree``); else
  the ``lockgate add`` commands to run are listed.

Must not: run stages, or write anything but in ``write``.
"""

from __future__ import annotations

import configparser
import hashlib
import json
import os
import posixpath
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from lockgate.errors import LockgateError, UsageError
from lockgate.spec.params import ParamError, deep_merge, first_clash, lookup
from lockgate.tracked import gitignore_paths, outermost

DVC_YAML = "dvc.yaml"
DEFAULT_PARAMS = "params.yaml"
_BRACKET = re.compile(r"\[(\w+)\]")
_REF = re.compile(r"(?<!\\)\$\{([^}]*)\}")
_STAGE_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]*$")
_PLOT_KEYS = ("x", "y", "template", "title", "x_label", "y_label", "header")
_TOP_PLOT_KEYS = ("x", "y", "template", "title", "x_label", "y_label")
_ARTIFACT_KEYS = ("path", "type", "desc", "labels", "meta")
_STAGE_ORDER = ("desc", "wdir", "cmd", "deps", "params", "outs", "metrics", "plots", "frozen",
                "always_changed", "matrix")
_SKIPPED_DIRS = {".git", ".dvc", ".lockgate", ".venv", "venv", "node_modules", "__pycache__"}


@dataclass(frozen=True)
class DataFile:
    """Data a ``.dvc`` file tracks: ``state`` is ``verified`` (here, with the md5 the
    ``.dvc`` file records), ``missing``, ``differs`` or ``unverified`` (no md5 to
    compare: an older DVC's hash, or an external one)."""

    path: str  # repository-relative
    source: str  # the .dvc file
    state: str


@dataclass
class Conversion:
    name: str  # the pipeline's name: pipelines/NAME.yaml
    source: str  # the dvc.yaml, repository-relative
    spec: dict[str, Any]
    text: str
    notes: list[str] = field(default_factory=list)  # what was not carried over, and why
    data: list[DataFile] = field(default_factory=list)
    ignore: list[str] = field(default_factory=list)  # cached outputs, for .gitignore
    problems: list[str] = field(default_factory=list)  # the converted spec's own errors

    @property
    def spec_path(self) -> str:
        return f"pipelines/{self.name}.yaml"

    def add_commands(self) -> list[str]:
        """``lockgate add`` for each data path that could not be versioned at once."""
        return [f"lockgate add {d.path}" for d in self.data if d.state != "verified"]


@dataclass
class Written:
    spec: str
    versioned: list[str] = field(default_factory=list)  # data paths recorded in data.lock
    ignored: list[str] = field(default_factory=list)  # lines added to .gitignore


# -- finding what to convert -----------------------------------------------------------------


def find_dvc_yaml(root: Path, start: Path, given: str | None) -> Path:
    """The ``dvc.yaml`` to convert: ``given`` (a file, or a folder holding one; relative to
    ``start``), else the repository root's."""
    target = (start / given) if given else root / DVC_YAML
    if target.is_dir():
        target = target / DVC_YAML
    if not target.is_file():
        where = given or "the repository root"
        raise UsageError(f"no {DVC_YAML} at {where} ({target}); name one: lockgate init --from-dvc PATH")
    try:
        target.resolve().relative_to(root.resolve())
    except ValueError:
        raise UsageError(f"{target} is outside the repository ({root})") from None
    return target


def pipeline_name(root: Path, dvc_yaml: Path) -> str:
    """The folder holding ``dvc.yaml`` (the repository's own name at its root), as a name
    lockgate can use in file names and ``PIPELINE:STAGE`` addresses."""
    text = dvc_yaml.resolve().parent.name
    name = re.sub(r"[^A-Za-z0-9_-]+", "-", text).strip("-.") or "pipeline"
    return name[:100]


# -- the conversion --------------------------------------------------------------------------


def convert(root: Path, dvc_yaml: Path, name: str | None = None) -> Conversion:
    """Read ``dvc_yaml`` (and what it uses) into a Conversion; nothing is written."""
    root = root.resolve()
    path = dvc_yaml.resolve()
    source = path.relative_to(root).as_posix()
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise UsageError(f"{source}: cannot read it: {exc}") from None
    if not isinstance(data, dict):
        raise UsageError(f"{source}: not a dvc.yaml (a mapping with stages:)")
    converter = _Converter(root, posixpath.dirname(source), source)
    spec = converter.pipeline(data)
    name = name or pipeline_name(root, path)
    conversion = Conversion(name=name, source=source, spec=spec, text=_spec_text(spec, source),
                            notes=converter.notes)
    conversion.notes += _project_notes(root, source)
    conversion.data, data_notes = _tracked_data(root)
    conversion.notes += data_notes
    conversion.problems, conversion.ignore = _check(root, conversion, converter.literal_outs)
    return conversion


class _Converter:
    """Builds the spec from dvc.yaml's data, collecting a note for each loss."""

    def __init__(self, root: Path, base: str, source: str) -> None:
        self.root = root
        self.base = base  # the dvc.yaml folder, repository-relative ("" at the root)
        self.source = source
        self.notes: list[str] = []
        self.params: dict[str, Any] = {}  # the spec's params: (vars given inline)
        self.params_files: list[str] = []
        self.context: dict[str, Any] = {}  # what ${...} sees, as DVC builds it
        self.literal_outs: list[str] = []  # cached output paths without ${...}, for .gitignore

    def note(self, where: str, text: str) -> None:
        self.notes.append(f"{self.source}: {where}: {text}" if where else f"{self.source}: {text}")

    # -- the whole file ------------------------------------------------------------------
    def pipeline(self, data: dict[str, Any]) -> dict[str, Any]:
        default = _join(self.base, DEFAULT_PARAMS)
        if (self.root / default).is_file():  # DVC loads it first, always (load_from_vars)
            self._params_file(default, (), "params.yaml")
        vars_ = data.get("vars") or []
        for i, entry in enumerate(vars_ if isinstance(vars_, list) else [vars_]):
            self._var(f"vars[{i}]", entry, self.base)
        stages: dict[str, Any] = {}
        for name, body in (data.get("stages") or {}).items():
            converted = self._stage(str(name), body)
            if converted is not None:
                new_name, stage = converted
                stages[new_name] = stage
        if not stages:
            self.note("stages", "no stage could be converted; a lockgate pipeline needs at least one")
        for i, metric in enumerate(data.get("metrics") or []):
            self._top_metric(f"metrics[{i}]", metric, stages)
        for file in data.get("params") or []:
            self._top_params(str(file))
        spec: dict[str, Any] = {
            "version": 1,
            "description": f"Converted from {self.source} by `lockgate init --from-dvc`.",
        }
        if self.params:
            spec["params"] = self.params
        if self.params_files:
            spec["params_file"] = self.params_files[0] if len(self.params_files) == 1 else list(self.params_files)
        spec["stages"] = stages
        plots = [p for i, entry in enumerate(data.get("plots") or []) if (p := self._top_plot(f"plots[{i}]", entry))]
        if plots:
            spec["plots"] = plots
        artifacts = self._artifacts(data.get("artifacts") or {})
        if artifacts:
            spec["artifacts"] = artifacts
        if data.get("datasets"):
            self.note("datasets", "not carried over: lockgate has no dataset declarations; version the "
                                  "data with `lockgate add PATH`, or name it under inputs:")
        for key in data:
            if key not in ("stages", "vars", "params", "metrics", "plots", "artifacts", "datasets"):
                self.note(str(key), "unknown top-level key, not carried over")
        return spec

    # -- params and vars -----------------------------------------------------------------
    def _params_file(self, entry: str, keys: tuple[str, ...], where: str) -> bool:
        """Add a params file (``keys``: only those top-level keys) to ``params_file:``; False
        (with a note) when it cannot be read or would change a value already set."""
        if entry.endswith((".toml", ".py")):
            self.note(where, f"params file '{entry}' is not carried over: lockgate reads YAML and JSON "
                             "params files; convert it to YAML and list it in params_file:")
            return False
        values = _read_params(self.root / entry)
        if values is None:
            self.note(where, f"params file '{entry}' cannot be read as a mapping of params; not carried over")
            return False
        if keys:
            values = {k: values[k] for k in keys if k in values}
        clash = first_clash(self.context, values)
        if clash:
            key, old, new = clash
            self.note(where, f"params file '{entry}' sets '{key}' to {new!r}, but it is already {old!r}; "
                             "lockgate's params are one namespace (DVC keeps files apart), so it is not "
                             "added to params_file: rename the key in one file")
            return False
        self.context = deep_merge(self.context, values)
        listed = f"{entry}:{','.join(keys)}" if keys else entry
        if listed not in self.params_files:
            self.params_files.append(listed)
        return True

    def _var(self, where: str, entry: Any, wdir: str) -> None:
        if isinstance(entry, str):
            file, _, keys = entry.partition(":")
            path = _join(wdir, file)
            if (self.root / path).is_file() or not keys:
                self._params_file(path, tuple(k for k in keys.split(",") if k), where)
            else:
                self.note(where, f"vars file '{file}' does not exist; not carried over")
        elif isinstance(entry, dict):
            clash = first_clash(self.context, entry)
            if clash:
                self.note(where, f"vars sets '{clash[0]}' twice ({clash[1]!r}, {clash[2]!r}); kept the first")
                return
            self.context = deep_merge(self.context, entry)
            self.params = deep_merge(self.params, _rewrite_refs(entry))
        else:
            self.note(where, f"vars entries are files or mappings; {entry!r} is not carried over")

    def _top_params(self, file: str) -> None:
        path = _join(self.base, file)
        listed = [e.partition(":")[0] for e in self.params_files]
        if path in listed:
            return
        if not (self.root / path).is_file():
            self.note("params", f"params file '{file}' does not exist; not carried over")
            return
        self._params_file(path, (), "params")

    # -- stages --------------------------------------------------------------------------
    def _stage(self, name: str, body: Any) -> tuple[str, dict[str, Any]] | None:
        where = f"stage '{name}'"
        if not isinstance(body, dict):
            self.note(where, "not a mapping; not carried over")
            return None
        new_name = name
        if not _STAGE_NAME.match(name):
            new_name = re.sub(r"[^A-Za-z0-9_-]", "_", name)
            new_name = new_name if re.match(r"[A-Za-z_]", new_name) else "_" + new_name
            self.note(where, f"renamed '{new_name}': lockgate stage names hold letters, digits, '_' and '-', "
                             "starting with a letter or '_'")
        if "foreach" in body or "do" in body:
            extra = [k for k in body if k not in ("foreach", "do")]
            for key in extra:
                self.note(where, f"'{key}' beside foreach/do is not carried over (DVC ignores it too)")
            do = body.get("do")
            if not isinstance(do, dict) or "foreach" not in body:
                self.note(where, "foreach needs do: (a stage); not carried over")
                return None
            stage = self._body(where, do, foreach=True)
            if stage is None:
                return None
            items = _rewrite_refs(body["foreach"])
            self._check_foreach(where, items)
            return new_name, {"foreach": items, "do": stage}
        stage = self._body(where, body)
        return None if stage is None else (new_name, stage)

    def _body(self, where: str, body: dict[str, Any], *, foreach: bool = False) -> dict[str, Any] | None:
        if "cmd" not in body:
            self.note(where, "has no cmd (a DVC stage without a command); not carried over")
            return None
        wdir = _join(self.base, str(body["wdir"])) if body.get("wdir") not in (None, "", ".") else self.base
        out: dict[str, Any] = {}
        for key, value in body.items():
            if key == "cmd":
                out["cmd"] = self._cmd(where, value)
            elif key == "wdir":
                continue
            elif key == "desc":
                out["desc"] = str(value)
            elif key == "deps":
                out["deps"] = self._deps(where, value)
            elif key == "params":
                params = self._stage_params(where, value or [], wdir)
                if params:
                    out["params"] = params
            elif key in ("outs", "metrics", "plots"):
                entries = self._outputs(where, key, value or [], wdir)
                if entries:
                    out[key] = entries
            elif key in ("frozen", "always_changed"):
                if value:
                    out[key] = True
            elif key == "matrix":
                if foreach:
                    self.note(where, "matrix inside foreach's do: is not carried over")
                    continue
                out["matrix"] = _rewrite_refs(value)
                self._check_matrix(where, value)
            elif key == "vars":
                for i, entry in enumerate(value or []):
                    self._var(f"{where}: vars[{i}]", entry, wdir)
            elif key == "meta":
                self.note(where, "meta: is not carried over (DVC ignores it too; lockgate has no such field)")
            else:
                self.note(where, f"unknown key '{key}', not carried over")
        if wdir:
            out["wdir"] = wdir
        return {k: out[k] for k in _STAGE_ORDER if k in out}

    def _cmd(self, where: str, value: Any) -> Any:
        if isinstance(value, list):
            return [self._unpacked(where, str(v)) for v in value]
        return self._unpacked(where, str(value))

    def _unpacked(self, where: str, text: str) -> str:
        """``${mydict}`` in a command (DVC's dictionary unpacking) written out as
        ``--key ${mydict.key}`` flags for the keys it has now; ``${a[0]}`` as ``${a.0}``."""
        text = _rewrite_refs(text)

        def expand(match: re.Match[str]) -> str:
            ref = match.group(1).strip()
            value = _lookup(self.context, ref)
            if not isinstance(value, dict):
                return match.group(0)
            flags = []
            for key, item in _flatten(value).items():
                dotted = f"{ref}.{key}"
                if isinstance(item, bool):
                    if item:
                        flags.append(f"--{key}")
                elif isinstance(item, list):
                    flags.append(f"--{key} " + " ".join(f"${{{dotted}.{i}}}" for i in range(len(item))))
                else:
                    flags.append(f"--{key} ${{{dotted}}}")
            self.note(where, f"cmd unpacks ${{{ref}}} (DVC's dictionary unpacking): written out as flags for "
                             "the keys it has now (--key ${" + ref + ".key}); true/false flags are fixed, "
                             "and a key added later must be added to cmd")
            return " ".join(flags)

        return _REF.sub(expand, text)

    def _deps(self, where: str, value: Any) -> list[str]:
        deps = []
        for dep in value if isinstance(value, list) else [value]:
            dep = str(dep)
            if "://" in dep:
                self.note(where, f"dependency '{dep}' is a URL (an external dependency): lockgate reads "
                                 "files only; download it in a stage of its own, or version it with lockgate add")
                continue
            deps.append(_rewrite_refs(dep))
        return deps

    def _stage_params(self, where: str, value: Any, wdir: str) -> list[Any]:
        """Keys of the default params file stay plain keys when that file is the pipeline's
        ``params_file``; in another ``wdir`` they become ``{params.yaml: [keys]}`` (DVC reads
        ``params.yaml`` in the stage's wdir)."""
        keys: list[str] = []
        entries: list[dict[str, Any]] = []
        for entry in value if isinstance(value, list) else [value]:
            if isinstance(entry, str):
                keys.append(entry)
            elif isinstance(entry, dict):
                entries.append(entry)
            else:
                self.note(where, f"params entry {entry!r} is not carried over")
        plain = bool(keys) and wdir == self.base and _join(self.base, DEFAULT_PARAMS) in self.params_files
        if keys and not plain:
            if not (self.root / _join(wdir, DEFAULT_PARAMS)).is_file():
                self.note(where, f"reads {', '.join(keys)} from {_join(wdir, DEFAULT_PARAMS)}, which does not "
                                 "exist (DVC fails too); not carried over")
            else:
                entries.insert(0, {DEFAULT_PARAMS: keys})
        files: list[Any] = []
        for entry in entries:
            for file, names in entry.items():
                file = str(file)
                path = _join(wdir, file)
                if file.endswith((".toml", ".py")):
                    self.note(where, f"params file '{file}' is not carried over: lockgate reads YAML and JSON "
                                     "params files (the stage's fingerprint then misses these params)")
                    continue
                values = _read_params(self.root / path)
                if values is None:
                    self.note(where, f"params file '{file}' cannot be read; not carried over")
                    continue
                if path not in [e.partition(":")[0] for e in self.params_files]:
                    clash = first_clash(self.context, values)
                    if clash:
                        self.note(where, f"params file '{file}' sets '{clash[0]}' to {clash[2]!r}, but it is "
                                         f"already {clash[1]!r}; lockgate's params are one namespace (DVC "
                                         "keeps files apart), so this entry is not carried over: rename the key")
                        continue
                    self.context = deep_merge(self.context, values)
                files.append({file: list(names) if names else None})
        return [*keys, *files] if plain else files

    def _outputs(self, where: str, kind: str, value: Any, wdir: str) -> list[Any]:
        entries = []
        for entry in value if isinstance(value, list) else [value]:
            if isinstance(entry, str):
                path, flags = entry, {}
            elif isinstance(entry, dict) and len(entry) == 1:
                ((path, flags),) = entry.items()
                flags = flags if isinstance(flags, dict) else {}
            else:
                self.note(where, f"{kind} entry {entry!r} is not carried over")
                continue
            path = str(path)
            if "://" in path:
                self.note(where, f"{kind} '{path}' is an external output; lockgate writes inside the "
                                 "repository only: not carried over")
                continue
            kept: dict[str, Any] = {}
            for key, flag in flags.items():
                if key == "cache" and flag is False:
                    kept["cache"] = False
                elif key == "persist" and flag is True:
                    kept["persist"] = True
                elif key in ("cache", "persist"):
                    continue  # DVC's default, written out
                elif key == "desc":
                    kept["desc"] = str(flag)
                elif kind == "plots" and key in _PLOT_KEYS:
                    kept[key] = _rewrite_refs(flag)
                elif key in ("remote", "push"):
                    self.note(where, f"{kind} '{path}': {key}: is not carried over: lockgate pushes every "
                                     "cached output to one remote (lockgate push -r URI)")
                elif key in ("type", "labels", "meta"):
                    self.note(where, f"{kind} '{path}': {key}: is not carried over (an annotation; "
                                     "declare it under artifacts: instead)")
                else:
                    self.note(where, f"{kind} '{path}': unknown flag '{key}', not carried over")
            path = _rewrite_refs(path)
            if "${" not in path and kept.get("cache", True):
                self.literal_outs.append(_join(wdir, path))
            if kind in ("metrics",) and not path.endswith((".json", ".yaml", ".yml")) and "${" not in path:
                self.note(where, f"metrics '{path}': lockgate reads JSON and YAML metrics files; other formats "
                                 "(TOML, CSV/TSV) fail the stage: convert the file to JSON")
            entries.append({path: kept} if kept else path)
        return entries

    def _check_foreach(self, where: str, items: Any) -> None:
        values = _lookup(self.context, items[2:-1].strip()) if isinstance(items, str) and items.startswith("${") else items
        if isinstance(values, list) and values and not any(isinstance(v, (dict, list)) for v in values):
            names = [str(v).lower() if isinstance(v, bool) else str(v) for v in values]
            if len(set(names)) != len(names) or any(not n or set(n) & set("/\\@") for n in names):
                self.note(where, "foreach values that cannot be part of a stage name (a '/', '@', or a "
                                 "repeat) name the stages by index in lockgate (NAME@0, NAME@1, ...)")

    def _check_matrix(self, where: str, matrix: Any) -> None:
        if isinstance(matrix, dict) and any(isinstance(v, (dict, list)) for values in matrix.values()
                                           if isinstance(values, list) for v in values):
            self.note(where, "matrix values that are lists or mappings name the stages by index in lockgate "
                             "(train@0-1), where DVC writes the axis name too (train@config0-labels1)")

    # -- top-level metrics, plots, artifacts ---------------------------------------------
    def _top_metric(self, where: str, metric: Any, stages: dict[str, Any]) -> None:
        path = _join(self.base, str(metric))
        for name, stage in stages.items():
            if "foreach" in stage or "matrix" in stage:
                continue
            wdir = stage.get("wdir", "")
            for kind in ("outs", "metrics", "plots"):
                for i, entry in enumerate(stage.get(kind, [])):
                    out = entry if isinstance(entry, str) else next(iter(entry))
                    full = _join(wdir, out)
                    if full == path:
                        if kind == "metrics":
                            return
                        if kind == "outs":  # the same file: it is a metrics output of that stage
                            stage["outs"].pop(i)
                            if not stage["outs"]:
                                del stage["outs"]
                            stage.setdefault("metrics", []).append(entry)
                            _reorder(stage)
                            return
                        self.note(where, f"'{metric}' is a plots file of stage '{name}'; lockgate keeps it "
                                         "there and does not read it as metrics")
                        return
                    if path.startswith(full + "/"):  # inside a folder the stage writes
                        stage.setdefault("metrics", []).append(posixpath.relpath(path, wdir or "."))
                        _reorder(stage)
                        return
        self.note(where, f"metrics file '{metric}' is written by no stage lockgate can see (or by a "
                         "foreach/matrix stage); lockgate records the metrics a stage lists under metrics:, "
                         "so add it to that stage")

    def _top_plot(self, where: str, entry: Any) -> Any:
        if isinstance(entry, str):
            return _join(self.base, entry)
        if not isinstance(entry, dict) or len(entry) != 1:
            self.note(where, f"plots entry {entry!r} is not carried over")
            return None
        ((plot_id, config),) = entry.items()
        config = config if isinstance(config, dict) else {}
        kept: dict[str, Any] = {}
        for key, value in config.items():
            if key not in _TOP_PLOT_KEYS:
                self.note(where, f"plot '{plot_id}': '{key}' is not carried over")
            elif key in ("x", "y") and isinstance(value, dict):
                kept[key] = {_join(self.base, str(f)): v for f, v in value.items()}
            else:
                kept[key] = value
        has_files = any(isinstance(kept.get(axis), dict) for axis in ("x", "y"))
        plot_id = str(plot_id) if has_files else _join(self.base, str(plot_id))
        return {plot_id: kept} if kept else plot_id

    def _artifacts(self, artifacts: Any) -> dict[str, Any]:
        kept: dict[str, Any] = {}
        for name, body in artifacts.items() if isinstance(artifacts, dict) else ():
            if not isinstance(body, dict) or "path" not in body:
                self.note(f"artifacts.{name}", "needs a path; not carried over")
                continue
            entry = {k: v for k, v in body.items() if k in _ARTIFACT_KEYS}
            for key in body:
                if key not in _ARTIFACT_KEYS:
                    self.note(f"artifacts.{name}", f"'{key}' is not carried over")
            path = str(entry["path"])
            entry["path"] = path if "://" in path else _join(self.base, path)
            kept[str(name)] = entry
        if kept:
            self.note("artifacts", "kept as declarations (path, type, desc, labels); DVC's model registry "
                                   "(GTO git tags, dvc artifacts get) is not carried over: lockgate's registry "
                                   "versions a model a `uses: promote` stage promotes (in: {model: PATH})")
        return kept


# -- the rest of the project -----------------------------------------------------------------


def _project_notes(root: Path, source: str) -> list[str]:
    notes = []
    lock = posixpath.join(posixpath.dirname(source), "dvc.lock")
    if (root / lock).is_file():
        notes.append(f"{lock}: its hashes are not reused: the first `lockgate run` runs every stage and "
                     "hashes again (DVC's cache and run-cache are not read either)")
    config = root / ".dvc" / "config"
    for remote, url in _remotes(config):
        notes.append(f".dvc/config: remote '{remote}' ({url}) is not carried over: lockgate stores objects "
                     "by BLAKE3 digest, not in DVC's md5 layout; push anew to a pyarrow.fs URI "
                     "(lockgate push -r s3://bucket/path, or [remotes] in lockgate.toml)")
    ignore = root / ".dvcignore"
    if ignore.is_file() and any(line.strip() and not line.lstrip().startswith("#")
                                for line in ignore.read_text(encoding="utf-8", errors="replace").splitlines()):
        notes.append(".dvcignore: not carried over: lockgate hashes every file of a folder dependency "
                     "(but __pycache__/ and *.pyc)")
    for other in sorted(_find(root, DVC_YAML)):
        if other != source:
            notes.append(f"{other}: another DVC pipeline, not converted here: "
                         f"lockgate init --from-dvc {other} --name NAME")
    return notes


def _remotes(config: Path) -> list[tuple[str, str]]:
    if not config.is_file():
        return []
    parser = configparser.ConfigParser(strict=False, interpolation=None)
    try:
        parser.read_string(config.read_text(encoding="utf-8"))
    except (configparser.Error, OSError, UnicodeDecodeError):
        return [("?", "an unreadable .dvc/config")]
    found = []
    for section in parser.sections():
        match = re.fullmatch(r"""['"]?\s*remote\s+"([^"]+)"\s*['"]?""", section)
        if match:
            found.append((match.group(1), parser[section].get("url", "?")))
    return found


def _find(root: Path, suffix: str) -> list[str]:
    """Repository-relative paths of files named (or ending with) ``suffix``."""
    found = []
    for folder, dirs, files in os.walk(root):
        dirs[:] = sorted(d for d in dirs if d not in _SKIPPED_DIRS)
        for file in files:
            if file == suffix or (suffix.startswith(".") and file.endswith(suffix)):
                found.append(Path(folder, file).relative_to(root).as_posix())
    return sorted(found)


def _tracked_data(root: Path) -> tuple[list[DataFile], list[str]]:
    """The data of every ``.dvc`` file, checked against the md5 it records."""
    data, notes = [], []
    for source in _find(root, ".dvc"):
        try:
            body = yaml.safe_load((root / source).read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, yaml.YAMLError):
            notes.append(f"{source}: cannot read it; its data is not versioned")
            continue
        if not isinstance(body, dict):
            continue
        folder = _join(posixpath.dirname(source), str(body.get("wdir") or ""))
        for dep in body.get("deps") or []:
            if isinstance(dep, dict):
                notes.append(f"{source}: {_import_words(dep)}: lockgate does not fetch data from other "
                             "repositories, URLs or databases; the file is versioned as plain data "
                             "(`dvc update` has no lockgate equivalent)")
        for out in body.get("outs") or []:
            if not isinstance(out, dict) or "path" not in out:
                continue
            path = _join(folder, str(out["path"]))
            if out.get("cache") is False:
                notes.append(f"{source}: '{path}' has cache: false; DVC does not store it, nor does lockgate")
                continue
            data.append(DataFile(path, source, _data_state(root / path, out)))
    for item in data:
        if item.state == "missing":
            notes.append(f"{item.source}: '{item.path}' is not here (DVC's cache is not read): get it "
                         f"(dvc pull {item.source}), then `lockgate add {item.path}`")
        elif item.state == "differs":
            notes.append(f"{item.source}: '{item.path}' differs from the version {item.source} records: "
                         f"`lockgate add {item.path}` once it is the version you want")
        elif item.state == "unverified":
            notes.append(f"{item.source}: '{item.path}' cannot be checked against {item.source} (an older "
                         f"DVC's hash): `lockgate add {item.path}` once it is the version you want")
    return data, notes


def _import_words(dep: dict[str, Any]) -> str:
    repo = dep.get("repo")
    if isinstance(repo, dict):
        rev = repo.get("rev_lock") or repo.get("rev") or ""
        return (f"a `dvc import` of {dep.get('path')} from {repo.get('url')}"
                + (f" (revision {str(rev)[:10]})" if rev else ""))
    if isinstance(dep.get("db"), dict):
        return "a `dvc import-db` snapshot"
    return f"a `dvc import-url` of {dep.get('path')}"


def _data_state(target: Path, out: dict[str, Any]) -> str:
    if not target.exists():
        return "missing"
    md5 = out.get("md5")
    if not isinstance(md5, str):
        return "unverified"
    legacy = out.get("hash") != "md5"  # DVC 2 hashed text files with dos2unix: an md5 we may not match
    actual = _dir_md5(target) if target.is_dir() else _file_md5(target)
    if actual == md5:
        return "verified"
    return "unverified" if legacy else "differs"


def _file_md5(path: Path) -> str:
    digest = hashlib.md5(usedforsecurity=False)
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _dir_md5(path: Path) -> str:
    """DVC's directory hash: md5 of the JSON list of ``{"md5", "relpath"}`` sorted by
    relpath (``dvc_data.hashfile.tree.Tree.as_bytes``), plus ``.dir``."""
    entries = []
    for folder, dirs, files in os.walk(path):
        dirs.sort()
        for file in files:
            full = Path(folder, file)
            entries.append({"md5": _file_md5(full), "relpath": full.relative_to(path).as_posix()})
    entries.sort(key=lambda e: e["relpath"])
    body = json.dumps(entries, sort_keys=True).encode("utf-8")
    return hashlib.md5(body, usedforsecurity=False).hexdigest() + ".dir"


# -- checking the result, and writing it -----------------------------------------------------


def _check(root: Path, conversion: Conversion, literal_outs: list[str]) -> tuple[list[str], list[str]]:
    """The converted spec's own errors (as ``lockgate validate`` would word them), and the
    cached outputs git should ignore (expanded, when the spec compiles)."""
    from lockgate.errors import SpecError
    from lockgate.graph.compile import compile_pipeline
    from lockgate.spec.load import load_text

    try:
        loaded = load_text(conversion.text, file=conversion.spec_path, name=conversion.name, root=root)
        pipeline = compile_pipeline(loaded)
    except SpecError as exc:
        return [str(issue) for issue in exc.issues], outermost(literal_outs)
    paths = [p for s in pipeline.stages.values() if s.kind == "cmd"
             for p in (*s.outs, *s.metrics) if s.cached(p)]
    return [], outermost(paths)


def write(root: Path, conversion: Conversion, *, force: bool = False) -> Written:
    """Write the spec (never over an existing one unless ``force``), ``.lockgate/``, the
    ``.gitignore`` lines, and the ``data.lock`` records of verified data."""
    from lockgate._fs import atomic_write_text
    from lockgate.executor.repolock import repo_lock
    from lockgate.executor.state import MissingInput, Workspace
    from lockgate.project import Layout, ensure_state_dir
    from lockgate.store.local import LocalStore
    from lockgate.store.statcache import StatCache
    from lockgate.tracked import DataLock

    root = root.resolve()
    spec = root / conversion.spec_path
    if spec.exists() and not force:
        raise UsageError(f"{conversion.spec_path} exists; nothing was written (--force replaces it, "
                         "or --name NAME writes another)")
    spec.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(spec, conversion.text)
    state = ensure_state_dir(root / ".lockgate")
    written = Written(spec=conversion.spec_path)
    verified = [d.path for d in conversion.data if d.state == "verified"]
    if verified:
        with repo_lock(state, wait=True):
            data = DataLock.read(root)
            with StatCache(Layout(state).statcache) as stats:
                workspace = Workspace(root, stats, LocalStore(Layout(state).cache))
                for path in verified:
                    try:
                        record = workspace.store_data(path)
                    except (MissingInput, LockgateError, OSError):
                        continue
                    data.entries[path] = record
                    written.versioned.append(path)
            data.write(root)
    written.ignored = gitignore_paths(root, [*conversion.ignore, *written.versioned])
    return written


# -- small helpers ---------------------------------------------------------------------------


def _join(base: str, path: str) -> str:
    """``path`` (relative to ``base``, repository-relative) as a repository-relative path."""
    if not base or path.startswith("/") or "://" in path:
        return posixpath.normpath(path) if path and "${" not in path else path
    return posixpath.normpath(posixpath.join(base, path))


def _read_params(path: Path) -> dict[str, Any] | None:
    try:
        values = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError):
        return None
    return values if isinstance(values, dict) else ({} if values is None else None)


def _lookup(context: dict[str, Any], ref: str) -> Any:
    """The value at ``a.b.0`` in DVC's context, or None when it has none."""
    try:
        return lookup(context, ref)
    except ParamError:
        return None


def _flatten(value: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for key, item in value.items():
        if isinstance(item, dict):
            flat.update(_flatten(item, f"{prefix}{key}."))
        else:
            flat[f"{prefix}{key}"] = item
    return flat


def _rewrite_refs(value: Any) -> Any:
    """DVC's ``${a[0]}`` as lockgate's ``${a.0}``, anywhere in ``value``."""
    if isinstance(value, str):
        return _REF.sub(lambda m: "${" + _BRACKET.sub(r".\1", m.group(1)) + "}", value)
    if isinstance(value, dict):
        return {k: _rewrite_refs(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_rewrite_refs(v) for v in value]
    return value


def _reorder(stage: dict[str, Any]) -> None:
    ordered = {k: stage[k] for k in _STAGE_ORDER if k in stage}
    stage.clear()
    stage.update(ordered)


def _spec_text(spec: dict[str, Any], source: str) -> str:
    header = (f"# Converted from {source} by `lockgate init --from-dvc`; the scripts run unchanged.\n"
              "# Check it with `lockgate validate` and `lockgate dag`, then `lockgate run`.\n")
    blocks = []
    for key, value in spec.items():
        blocks.append(yaml.safe_dump({key: value}, sort_keys=False, default_flow_style=False,
                                     allow_unicode=True, width=100))
    return header + "\n".join(blocks)


__all__ = ["Conversion", "DataFile", "Written", "convert", "find_dvc_yaml",
           "pipeline_name", "write"]
