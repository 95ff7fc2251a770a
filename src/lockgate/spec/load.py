"""Read a pipeline spec file into validated models, with every error located.

``load_spec`` reads YAML safely (with positions), checks the shape against the
frozen models of ``spec.models``, resolves params (defaults, ``params_file``,
``-p`` overrides), and raises one SpecError holding *every* problem found, each
as ``FILE:LINE:COL: message`` in the user's words. Turning stages into plain
runnable values (matrix, interpolation, expressions) is ``graph.expand``'s job.
Every limit of ``spec.limits`` that can be checked before expanding (file size,
YAML bounds, stage and matrix counts, name lengths, the ``params_file`` path)
is checked here, before any expensive work.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from lockgate.errors import SpecError, SpecIssue, did_you_mean
from lockgate.spec import limits
from lockgate.spec import models as m
from lockgate.spec.limits import shown
from lockgate.spec.params import REF_RE, ParamError, apply_overrides, deep_merge, first_clash
from lockgate.spec.paths import check_name, check_path
from lockgate.spec.validation import validate
from lockgate.spec.yamlread import Positions, read_file, read_yaml

STAGE_NAME_HELP = "letters, digits, '_' and '-', starting with a letter or '_'"
KEDRO_PARAM_RE = __import__("re").compile(r"params:([A-Za-z_][\w-]*(?:\.[\w-]+)*)")
"""Kedro's ``params:NAME`` (dotted for a nested key): in ``with:``, the same as ``${NAME}``."""


@dataclass(frozen=True)
class LoadedSpec:
    """A validated spec with what is needed to locate errors found later."""

    name: str
    file: str
    spec: m.PipelineSpec
    positions: Positions
    params: dict[str, Any]
    params_file: str | None = None
    overrides: tuple[str, ...] = ()
    text: str = field(default="", repr=False)
    params_files: tuple[str, ...] = ()  # every params file read, in merge order (``params_file`` first)
    param_sources: dict[str, dict[str, Any]] = field(default_factory=dict, repr=False)  # file -> its values

    def issue(self, path: tuple[str | int, ...], message: str, *, key: bool = False) -> SpecIssue:
        line, col = self.positions.of(path, key=key)
        return SpecIssue(self.file, line, col, message)


def load_spec(
    path: str | Path,
    *,
    root: str | Path | None = None,
    overrides: Sequence[str] = (),
) -> LoadedSpec:
    """Load ``path``; raise SpecError listing every problem in it."""
    path = Path(path)
    root = Path(root) if root is not None else path.parent
    display = _display(path, root)
    try:
        text = read_file(path, display)
    except FileNotFoundError:
        raise SpecError(SpecIssue(display, 0, 0, "no such file")) from None
    return load_text(text, file=display, name=path.stem, root=root, overrides=overrides)


def load_text(
    text: str,
    *,
    file: str = "<spec>",
    name: str = "pipeline",
    root: str | Path = ".",
    overrides: Sequence[str] = (),
) -> LoadedSpec:
    problem = check_name(name, "the pipeline name (the spec's file name)")
    if problem:
        raise SpecError(SpecIssue(file, 0, 0, problem + "; rename the file"))
    data, positions = read_yaml(text, file)
    checker = _Checker(file, positions)
    checker.root = Path(root)  # where input folders are told from files with a dot in their name
    spec = checker.pipeline(data)
    if checker.issues or spec is None:
        raise SpecError(checker.issues)
    sources: dict[str, dict[str, Any]] = {}
    params = _resolve_params(spec, Path(root), checker, overrides, sources)
    if checker.issues:
        raise SpecError(checker.issues)
    files = tuple(f for f in sources)
    return LoadedSpec(
        name=name, file=file, spec=spec, positions=positions, params=params,
        params_file=files[0] if files else None, overrides=tuple(overrides), text=text,
        params_files=files, param_sources=sources,
    )


def _display(path: Path, root: Path) -> str:
    try:
        return path.resolve().relative_to(root.resolve()).as_posix()
    except ValueError:
        return str(path)


def _resolve_params(
    spec: m.PipelineSpec, root: Path, checker: _Checker, overrides: Sequence[str],
    sources: dict[str, dict[str, Any]],
) -> dict[str, Any]:
    """Defaults, then each ``params_file`` in order (later wins), then the files named by
    ``cmd`` stages' ``params: [{FILE: [keys]}]`` (which must agree with what is already
    set: one namespace), then ``-p``. ``sources`` gets each file's own values."""
    params = dict(spec.params)
    listed = [spec.params_file] if isinstance(spec.params_file, str) else list(spec.params_file or ())
    for i, entry in enumerate(listed):
        where: tuple[str | int, ...] = ("params_file",) if isinstance(spec.params_file, str) else ("params_file", i)
        name, keys = split_params_entry(entry)
        values = checker.params_file(root, name, where)
        if keys:
            missing = [k for k in keys if k not in values]
            if missing:
                checker.add(where, f"params_file '{name}' has no key {shown(missing[0])} "
                                   f"(it has: {', '.join(map(str, values)) or 'nothing'})")
            values = {k: values[k] for k in keys if k in values}
        sources[name] = deep_merge(sources.get(name, {}), values)
        params = deep_merge(params, values)
    for file, where in _stage_params_files(spec):
        if file in sources:
            continue
        values = checker.params_file(root, file, where)
        sources[file] = values
        clash = first_clash(params, values)
        if clash:
            key, old, new = clash
            checker.add(where, (
                f"params file '{file}' sets '{key}' to {shown(new)}, but it is already {shown(old)} "
                "(spec params: or params_file); lockgate's params are one namespace, so ${...} and -p "
                "would be ambiguous: rename one of them"
            ))
        params = deep_merge(params, values)
    try:
        return apply_overrides(params, list(overrides))
    except ParamError as exc:
        checker.issues.append(SpecIssue(checker.file, 0, 0, str(exc)))
        return params


_PARAMS_ENTRY_KEYS = __import__("re").compile(r"^[\w.-]+(?:,[\w.-]+)*$")
PARAMS_SUFFIXES = (".yaml", ".yml", ".json")


def split_params_entry(entry: str) -> tuple[str, tuple[str, ...]]:
    """``config.yaml:train,prepare`` -> ("config.yaml", ("train", "prepare")): only those
    top-level keys of the file (DVC's ``vars`` form); a plain file name selects all."""
    name, sep, keys = entry.rpartition(":")
    if sep and name.endswith(PARAMS_SUFFIXES) and _PARAMS_ENTRY_KEYS.match(keys):
        return name, tuple(k for k in keys.split(",") if k)
    return entry, ()


def stage_params_path(wdir: str | None, file: str) -> str:
    """A ``cmd`` stage's ``{FILE: [keys]}`` params file, repository-relative (FILE is
    relative to the stage's ``wdir``, as DVC reads it)."""
    import posixpath

    return posixpath.normpath(posixpath.join(wdir, file)) if wdir else file


def _stage_params_files(spec: m.PipelineSpec) -> list[tuple[str, tuple[str | int, ...]]]:
    """(repository-relative file, where it is written) for each ``{FILE: [keys]}`` entry of a
    ``cmd`` stage's ``params:`` (relative to the stage's ``wdir``), first mention first."""
    found: dict[str, tuple[str | int, ...]] = {}
    for name, stage in spec.stages.items():
        if not isinstance(stage, m.CmdStage):
            continue
        for i, entry in enumerate(stage.params):
            if isinstance(entry, dict):
                for file in entry:
                    found.setdefault(stage_params_path(stage.wdir, file), ("stages", name, "params", i))
    return list(found.items())


class _Checker:
    """Collects located issues while checking one document."""

    root: Path | None = None  # the repository, when known

    def __init__(self, file: str, positions: Positions) -> None:
        self.file = file
        self.positions = positions
        self.issues: list[SpecIssue] = []

    def add(self, path: tuple[str | int, ...], message: str, *, key: bool = False) -> None:
        line, col = self.positions.of(path, key=key)
        self.issues.append(SpecIssue(self.file, line, col, message))

    # -- the whole document ------------------------------------------------
    def pipeline(self, data: Any) -> m.PipelineSpec | None:
        if data is None:
            self.issues.append(SpecIssue(self.file, 0, 0, "the spec is empty; start with 'version: 1'"))
            return None
        if not isinstance(data, dict):
            self.add((), "a spec is a mapping with 'version: 1' and 'stages:'")
            return None
        if not self._version(data):
            return None
        header = {k: v for k, v in data.items() if k != "stages"}
        self._validate(m.PipelineSpec, {k: v for k, v in header.items() if k != "inputs"}, (), "")
        self._names(data.get("inputs"), ("inputs",), "input")
        self._inputs(data.get("inputs", {}))
        self._top_paths(data)
        stages = self._stages(data.get("stages", {}))
        if self.issues:
            return None
        return m.PipelineSpec.model_validate({**header, "stages": stages})

    def _version(self, data: dict[str, Any]) -> bool:
        if "version" not in data:
            self.add((), "missing 'version: 1' at the top of the spec")
            return False
        version = data["version"]
        if version != 1 or isinstance(version, bool):
            self.add(
                ("version",),
                f"unsupported version {version!r}; this lockgate reads version 1 "
                "(upgrade lockgate for newer specs)",
            )
            return False
        return True

    def _names(self, mapping: Any, path: tuple[str, ...], what: str) -> None:
        if not isinstance(mapping, dict):
            return
        for name in mapping:
            if not isinstance(name, str) or not m.NAME_RE.match(name):
                self.add(
                    (*path, name),
                    f"{what} name {shown(name)} must be an identifier (letters, digits, '_'), "
                    "so gates can refer to it",
                    key=True,
                )
            elif problem := check_name(name, f"{what} name {shown(name)}"):
                self.add((*path, name), problem + "; shorten it", key=True)

    def _inputs(self, inputs: Any) -> None:
        """Each ``inputs:`` entry: a path, or ``{path, read}`` with the reader's options for
        the path's kind of file; a path lockgate cannot read as a table is refused now, not
        when a stage reads it (a folder's files are checked when it is read)."""
        from lockgate.spec.reading import TABLE_SUFFIXES, read_option_problems, table_kind

        if not isinstance(inputs, dict):
            self.add(("inputs",), f"'inputs' should be a mapping of name -> path, got {_short(inputs)}")
            return
        for name, entry in inputs.items():
            where: tuple[str | int, ...] = ("inputs", name)
            if isinstance(entry, dict):
                self._validate(m.InputEntry, entry, where, f"input '{name}': ")
                if not isinstance(entry.get("path"), str):
                    continue
                path, where = entry["path"], (*where, "path")
            elif isinstance(entry, str):
                path = entry
            else:
                self.add(where, f"input '{name}' is a path, or {{path: ..., read: {{...}}}}; got {_short(entry)}")
                continue
            kind = table_kind(path)
            suffix = Path(path).suffix
            folder = not suffix or (self.root is not None and (self.root / path).is_dir())
            if not kind and not folder:
                self.add(where, (
                    f"input '{name}' is '{path}', which lockgate cannot read as a table: it reads "
                    f"{', '.join(TABLE_SUFFIXES)} files, or a folder of them; a file your code opens "
                    "itself goes under the stage's deps:"))
                continue
            read = entry.get("read") if isinstance(entry, dict) else None
            if read is None or not isinstance(read, dict):
                continue  # not a mapping: said by the model's check
            for option, problem in read_option_problems("folder" if folder else kind, read):
                at = ("inputs", name, "read", option) if option is not None else ("inputs", name, "read")
                self.add(at, f"input '{name}': {problem}", key=option is not None)

    def _top_paths(self, data: dict[str, Any]) -> None:
        """Files named by the pipeline's ``plots:`` and ``artifacts:`` (kept as data, read by
        reports): inside the repository (an artifact may also be a URL: external storage)."""
        plots = data.get("plots")
        for i, entry in enumerate(plots if isinstance(plots, list) else []):
            if isinstance(entry, str):
                self._data_path(entry, ("plots", i), "plot")
            elif isinstance(entry, dict) and len(entry) == 1:
                ((plot_id, config),) = entry.items()
                files = [f for axis in ("x", "y") if isinstance(config, dict)
                         and isinstance(config.get(axis), dict) for f in config[axis]]
                if not files:  # the id is the plots file
                    self._data_path(str(plot_id), ("plots", i, plot_id), "plot")
                for file in dict.fromkeys(files):
                    self._data_path(str(file), ("plots", i, plot_id), "plot file")
            elif isinstance(entry, dict):
                self.add(("plots", i), "each plots entry is a file, or maps one plot id to its "
                                       f"x/y/template; got {len(entry)} keys")
        artifacts = data.get("artifacts")
        for name, body in artifacts.items() if isinstance(artifacts, dict) else ():
            where = ("artifacts", name, "path")
            text = body.get("path") if isinstance(body, dict) else None
            if isinstance(text, str) and "://" not in text:
                self._data_path(text, where, f"artifact '{name}' path")

    def _data_path(self, text: str, where: tuple[str | int, ...], what: str) -> None:
        if "${" in text:
            return  # a templated name: reports resolve it
        _, problem = check_path(text, what, writes=False, inside=True)
        if problem:
            self.add(where, problem)

    # -- stages --------------------------------------------------------------
    def _stages(self, stages: Any) -> dict[str, BaseModel]:
        if stages is None or stages == {}:
            self.add(("stages",), "no stages: add at least one under 'stages:'")
            return {}
        if not isinstance(stages, dict):
            self.add(("stages",), "'stages' must be a mapping of stage name -> stage")
            return {}
        if len(stages) > limits.MAX_PIPELINE_STAGES:
            self.add(("stages",), (
                f"{len(stages):,} stages, more than {limits.MAX_PIPELINE_STAGES:,} (the most one pipeline "
                "may have); split it into several pipelines"
            ), key=True)
            return {}
        result = {}
        for name, body in stages.items():
            stage = self._stage(str(name), body)
            if stage is not None:
                result[str(name)] = stage
        sizes = [_matrix_size(stage.matrix) * _foreach_size(stage.foreach) for stage in result.values()]
        expanded = sum(sizes)
        if expanded > limits.MAX_PIPELINE_STAGES and max(sizes, default=0) <= limits.MAX_MATRIX_STAGES:
            self.add(("stages",), (
                f"the matrices make {expanded:,} stages, more than {limits.MAX_PIPELINE_STAGES:,} (the most "
                "one pipeline may have); use fewer matrix values, or split it into several pipelines"
            ), key=True)
        return result

    def _stage(self, name: str, body: Any) -> BaseModel | None:
        path = ("stages", name)
        if not m.STAGE_NAME_RE.match(name):
            self.add(path, f"stage name {shown(name)} may hold only {STAGE_NAME_HELP}", key=True)
            return None
        if problem := check_name(name, f"stage name {shown(name)}"):
            self.add(path, problem + "; shorten it", key=True)
            return None
        if not isinstance(body, dict):
            self.add(path, f"stage '{name}' must be a mapping with one of cmd:, call: or uses:")
            return None
        where = path
        if "foreach" in body or "do" in body:  # DVC's `foreach: ... do: {stage}`
            body = self._foreach(name, body, path)
            if body is None:
                return None
            where = (*path, "do")
        kinds = [k for k in m.STAGE_KINDS if k in body]
        if not kinds:
            near = next((did_you_mean(str(k), m.STAGE_KINDS) for k in body if did_you_mean(str(k), m.STAGE_KINDS)), "")
            hint = f" (found {', '.join(map(repr, body))}{near})" if body else ""
            self.add(where, f"stage '{name}' has no kind: add one of cmd:, call: or uses:{hint}", key=True)
            return None
        if len(kinds) > 1:
            both = " and ".join(f"{k}:" for k in kinds)
            self.add(
                (*where, kinds[1]),
                f"stage '{name}' has both {both}; a stage is exactly one kind, "
                "split it into two stages",
                key=True,
            )
            return None
        model = m.STAGE_MODELS[kinds[0]]
        stage = self._validate(model, body, where, f"stage '{name}': ")
        if stage is not None:
            self._stage_extras(name, stage, path)
        return stage

    def _foreach(self, name: str, body: dict[str, Any], path: tuple[str, ...]) -> dict[str, Any] | None:
        """``{foreach: X, do: {...}}`` as one stage body (``do``'s keys with ``foreach``); the
        positions under ``do:`` are also recorded under the stage, where later errors look."""
        prefix = f"stage '{name}': "
        extra = [k for k in body if k not in ("foreach", "do")]
        if extra:
            self.add((*path, extra[0]), f"{prefix}with foreach:, the stage's keys go under do: "
                                        f"(move '{extra[0]}' there)", key=True)
            return None
        if "do" not in body or "foreach" not in body:
            missing = "do:" if "do" not in body else "foreach:"
            self.add(path, f"{prefix}foreach: and do: go together; add {missing}", key=True)
            return None
        items, do = body["foreach"], body["do"]
        if not isinstance(do, dict):
            self.add((*path, "do"), f"{prefix}do: is the stage to repeat: a mapping with cmd:, call: or uses:")
            return None
        if "foreach" in do or "matrix" in do:
            inner = "foreach" if "foreach" in do else "matrix"
            self.add((*path, "do", inner), f"{prefix}do: cannot hold {inner}:; one expansion per stage",
                     key=True)
            return None
        reference = isinstance(items, str) and REF_RE.fullmatch(items.strip())
        if not (isinstance(items, (list, dict)) or reference):
            self.add((*path, "foreach"), f"{prefix}foreach: takes a list, a mapping, or a whole-value "
                                         f"${{param}} holding one; got {shown(items, 40)}")
            return None
        if isinstance(items, (list, dict)) and not items:
            self.add((*path, "foreach"), f"{prefix}foreach: is empty; give it at least one value")
            return None
        base = (*path, "do")
        for table in (self.positions.values, self.positions.keys):
            for key, pos in list(table.items()):
                if key[:len(base)] == base and len(key) > len(base):
                    table.setdefault((*path, *key[len(base):]), pos)
        return {**do, "foreach": items}

    def _stage_extras(self, name: str, stage: BaseModel, path: tuple[str, ...]) -> None:
        prefix = f"stage '{name}': "
        if isinstance(stage, m.UsesStage) and stage.uses not in m.BUILTIN_STEPS:
            hint = did_you_mean(stage.uses, m.BUILTIN_STEPS) or (
                "; builtin steps are " + ", ".join(m.BUILTIN_STEPS)
            )
            self.add((*path, "uses"), f"{prefix}unknown step '{stage.uses}'{hint}")
        if isinstance(stage, m.CallStage) and not m.CALL_RE.match(stage.call):
            self.add(
                (*path, "call"),
                f"{prefix}call must be 'module.path:function' (e.g. src.features:build), "
                f"got {stage.call!r}",
            )
        if isinstance(stage, (m.CallStage, m.UsesStage)):
            for i, out in enumerate(stage.out):
                if not m.NAME_RE.match(out):
                    self.add(
                        (*path, "out", i),
                        f"{prefix}artifact name {shown(out)} must be an identifier "
                        "(letters, digits, '_'), so gates can refer to it",
                    )
                elif problem := check_name(out, f"artifact name {shown(out)}"):
                    self.add((*path, "out", i), prefix + problem + "; shorten it")
            for arg, artifact in stage.in_.items():
                found = KEDRO_PARAM_RE.fullmatch(artifact.strip())
                if found:  # Kedro passes params as node inputs; here in: names artifacts only
                    self.add((*path, "in", arg), (
                        f"{prefix}in: '{arg}' reads '{artifact}', a param the Kedro way; in: names "
                        f"artifacts, params go in with: write with: {{{arg}: \"${{{found.group(1)}}}\"}} "
                        f"(or \"{artifact.strip()}\") and remove it from in:"))
        if isinstance(stage, m.CmdStage) and _empty_cmd(stage.cmd):
            self.add((*path, "cmd"), f"{prefix}cmd is empty; write the command to run "
                                     "(e.g. cmd: python train.py), or remove the stage")
        for axis, values in (stage.matrix or {}).items():
            if isinstance(values, str) and not REF_RE.fullmatch(values.strip()):
                self.add((*path, "matrix", axis), f"{prefix}matrix axis '{axis}' takes a list of values, "
                                                  f"or a whole-value ${{param}} list; got {shown(values, 40)}")
            elif not values:
                self.add(
                    (*path, "matrix", axis),
                    f"{prefix}matrix axis '{axis}' is empty; give it at least one value",
                )
        if stage.matrix and stage.foreach is not None:
            self.add((*path, "matrix"), f"{prefix}matrix: and foreach: cannot be combined; use one",
                     key=True)
        if isinstance(stage, m.CmdStage):
            self._cmd_entries(prefix, stage, path)
        size = _matrix_size(stage.matrix) * _foreach_size(stage.foreach)
        if stage.foreach is not None and size > limits.MAX_MATRIX_STAGES:
            self.add((*path, "foreach"), (
                f"{prefix}foreach makes {size:,} stages, more than {limits.MAX_MATRIX_STAGES:,} "
                "(the most one stage may expand into); use fewer values, or split the stage"
            ), key=True)
        elif size > limits.MAX_MATRIX_STAGES:
            counts = " x ".join(str(len(v)) for v in (stage.matrix or {}).values())
            self.add((*path, "matrix"), (
                f"{prefix}matrix makes {size:,} stages ({counts}), more than {limits.MAX_MATRIX_STAGES:,} "
                "(the most one matrix may make); use fewer values, or split the stage"
            ), key=True)

    def _cmd_entries(self, prefix: str, stage: m.CmdStage, path: tuple[str, ...]) -> None:
        """``{path: flags}`` entries of outs/metrics/plots and ``{file: keys}`` entries of
        params map exactly one name each."""
        for key in ("outs", "metrics", "plots", "params"):
            for i, entry in enumerate(getattr(stage, key)):
                if isinstance(entry, dict) and len(entry) != 1:
                    what = "a params file to its keys" if key == "params" else "one path to its flags"
                    self.add((*path, key, i), f"{prefix}each {key} entry maps {what} "
                                              f"(write one entry per line); got {len(entry)} keys")
        files = [f for entry in stage.params if isinstance(entry, dict) for f in entry]
        if files and stage.wdir and "${" in stage.wdir:
            self.add((*path, "wdir"), f"{prefix}wdir is interpolated, so the params files its params: "
                                      "names cannot be found when the spec loads; write wdir literally")

    # -- pydantic errors in the user's words ---------------------------------
    def _validate(
        self, model: type[BaseModel], data: dict[str, Any], path: tuple[str | int, ...], prefix: str
    ) -> BaseModel | None:
        """The model, or None with one issue per problem (a union's alternatives make one)."""
        valid, problems = validate(model, data)
        for problem in problems:
            full = (*path, *problem.loc)
            if problem.kind == "unknown":
                word = problem.loc[-1]
                fix = (did_you_mean(str(word), problem.allowed, parens=True)
                       or f"; allowed keys: {', '.join(problem.allowed)}")
                self.add(full, f"{prefix}unknown key '{word}'{fix}", key=True)
            elif problem.kind == "missing":
                self.add(path or full[:-1], f"{prefix}missing required key '{problem.key}'")
            else:
                self.add(full, f"{prefix}'{problem.key}' should be {' or '.join(problem.wants)}, "
                               f"got {_short(problem.value)}")
        return valid

    def params_file(self, root: Path, name: str, where: tuple[str | int, ...] = ("params_file",)) -> dict[str, Any]:
        path, problem = check_path(name, "params_file", writes=False, inside=True)
        if problem:
            self.add(where, problem)
            return {}
        if path.endswith((".toml", ".py")):
            self.add(where, f"params file '{name}': lockgate reads YAML (and JSON) params files; "
                            "convert it to YAML")
            return {}
        target = root / path
        if target.exists() and not target.is_file():  # a folder, a FIFO, a device
            self.add(where, f"params_file '{name}' is not a regular file; name a YAML file")
            return {}
        try:
            text = read_file(target, path)
        except FileNotFoundError:
            self.add(where, f"params_file '{name}' does not exist; create it or remove the key")
            return {}
        except SpecError as exc:
            self.issues.extend(exc.issues)
            return {}
        try:
            data, _ = read_yaml(text, path)
        except SpecError as exc:
            self.issues.extend(exc.issues)
            return {}
        if data is None:
            return {}
        if not isinstance(data, dict):
            self.add(where, f"params_file '{name}' must hold a mapping of params")
            return {}
        return data


def _short(value: Any) -> str:
    return shown(value, 40)


def _matrix_size(matrix: dict[str, tuple[Any, ...] | str] | None) -> int:
    """How many stages a matrix expands into (1 without one), without expanding it (an
    axis that is a ${param} counts 1 here: ``graph.expand`` checks it once resolved)."""
    size = 1
    for values in (matrix or {}).values():
        size *= 1 if isinstance(values, str) else len(values)
    return size


def _foreach_size(items: Any) -> int:
    return len(items) if isinstance(items, (list, tuple, dict)) else 1


def _empty_cmd(cmd: str | tuple[str, ...]) -> bool:
    parts = [cmd] if isinstance(cmd, str) else list(cmd)
    return not any(isinstance(p, str) and p.strip() for p in parts)
