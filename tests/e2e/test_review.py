"""Review scenarios: edge cases of the engine, on real repositories and real subprocesses.

Tests marked ``xfail(strict=True)`` demonstrate a known, open bug (the reason says which);
the others pin risky behaviours that were checked and work.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from lockgate.lock import LockFile
from tests.conftest import write
from tests.e2e.helpers import lg


def outcomes(repo: Path, *args: str, code: int | None = 0) -> dict[str, str]:
    done = lg(repo, "run", "--json", *args, check=code)
    return {s["stage"]: s["outcome"] for s in json.loads(done.stdout)["stages"]}


def status(repo: Path, *args: str) -> dict[str, dict]:
    done = lg(repo, "status", "--json", *args)
    return {s["stage"]: s for s in json.loads(done.stdout)["stages"]}


# -- gates and the registry ---------------------------------------------------------------


def _register(repo: Path, model: str, alias: str, metrics: dict) -> None:
    from lockgate.registry import Registry

    registry = Registry.open(repo, model)
    version = registry.add_version(
        artifact={"kind": "model", "digest": "a" * 64}, metrics=metrics, params={},
        git_commit="", pipeline=model, stage="deploy", data={},
    )
    registry.set_alias(alias, version.version)
    registry.save()


def test_gate_on_alias_recorded_by_another_pipeline_is_checked(repo: Path):
    _register(repo, "churn", "production", {"f1": 0.5})
    write(repo, "pipelines/monitor.yaml", """
    version: 1
    stages:
      check:
        cmd: echo ok > checked.txt
        outs: [checked.txt]
        gates: ["production.f1 >= 0.9"]
    """)
    lg(repo, "validate", check=0)  # 'production' is accepted: it is in registry/
    got = outcomes(repo, code=None)
    assert got == {"check": "blocked"}, "production.f1 is 0.5 in registry/churn.yaml"
    assert not (repo / "checked.txt").exists()


# -- status and partial runs --------------------------------------------------------------

CHAIN = """
version: 1
stages:
  write:
    cmd: echo hello > msg.txt
    outs: [msg.txt]
  shout:
    cmd: tr a-z A-Z < msg.txt > shout.txt
    deps: [msg.txt]
    outs: [shout.txt]
"""


def test_status_with_missing_upstream_output_does_not_report_a_failure(repo: Path):
    write(repo, "pipelines/p.yaml", CHAIN)
    outcomes(repo)
    (repo / "msg.txt").unlink()
    (repo / "shout.txt").unlink()
    got = status(repo)
    assert got["write"]["outcome"] == "stale"
    assert got["shout"]["outcome"] != "failed", got["shout"]
    assert "no stage writes it" not in json.dumps(got["shout"])
    # what a run does: write is restored, shout is restored too (same bytes)
    assert outcomes(repo) == {"write": "restored", "shout": "restored"}


def test_downstream_before_upstream_ran_names_the_upstream_stage(repo: Path):
    write(repo, "pipelines/p.yaml", CHAIN)
    done = lg(repo, "run", "shout", "--downstream")
    assert "no stage writes it" not in done.stdout + done.stderr
    assert "write" in done.stdout + done.stderr


def test_downstream_when_upstream_never_ran_is_not_success(repo: Path):
    write(repo, "src/__init__.py", "")
    write(repo, "src/s.py", """
    def make():
        return {"v": 1}
    def use(x):
        return {"w": x["v"] + 1}
    """)
    write(repo, "pipelines/p.yaml", """
    version: 1
    stages:
      make: {call: "src.s:make", out: [m]}
      use: {call: "src.s:use", in: {x: m}, out: [u]}
    """)
    done = lg(repo, "run", "--json", "use", "--downstream")
    got = {s["stage"]: s["outcome"] for s in json.loads(done.stdout)["stages"]}
    assert got == {"use": "failed"}  # it could not run: exit 1, not a quiet success
    assert done.returncode != 0, "nothing that was asked for ran"


# -- folders as dependencies ----------------------------------------------------------------


def test_code_folder_dependency_with_python_bytecode(repo: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.delenv("PYTHONDONTWRITEBYTECODE", raising=False)  # what users have
    write(repo, "src/__init__.py", "")
    write(repo, "src/helper.py", "X = 1\n")
    write(repo, "src/prep.py", """
    import sys
    sys.path.insert(0, ".")
    from src.helper import X
    open("out.txt", "w").write(str(X))
    """)
    write(repo, "pipelines/p.yaml", """
    version: 1
    stages:
      prep:
        cmd: python src/prep.py
        deps: [src]
        outs: [out.txt]
    """)
    assert outcomes(repo, code=None) == {"prep": "ran"}


def test_folder_dependency_that_contains_the_stage_output(repo: Path):
    write(repo, "data/raw.csv", "a\n")
    write(repo, "pipelines/p.yaml", """
    version: 1
    stages:
      feat:
        cmd: cat data/raw.csv > data/feat.csv
        deps: [data]
        outs: [data/feat.csv]
    """)
    done = lg(repo, "run")
    if done.returncode == 2:  # refused as a spec error: fine, if it says why
        assert "data/feat.csv" in done.stderr
        return
    assert done.returncode == 0, done.stdout + done.stderr
    write(repo, "data/raw.csv", "b\n")
    assert outcomes(repo, code=None) == {"feat": "ran"}


# -- params ---------------------------------------------------------------------------------


def test_infinite_param_does_not_crash(repo: Path):
    write(repo, "pipelines/p.yaml", """
    version: 1
    params:
      clip: .inf
    stages:
      a:
        cmd: echo ${clip} > a.txt
        outs: [a.txt]
    """)
    done = lg(repo, "run")
    assert "Traceback" not in done.stderr, done.stderr[-2000:]
    assert done.returncode in (0, 2)


def test_whole_value_list_param_as_deps(repo: Path):
    write(repo, "data/a.csv", "a\n")
    write(repo, "data/b.csv", "b\n")
    write(repo, "pipelines/p.yaml", """
    version: 1
    params:
      files: [data/a.csv, data/b.csv]
    stages:
      cat:
        cmd: cat data/a.csv data/b.csv > both.txt
        deps: "${files}"
        outs: [both.txt]
    """)
    assert outcomes(repo, code=None) == {"cat": "ran"}
    lock = LockFile.read(repo / "pipelines/p.lock")
    assert set(lock.stages["cat"].deps) == {"data/a.csv", "data/b.csv"}


def test_whole_value_non_string_cmd_is_a_spec_error(repo: Path):
    write(repo, "pipelines/p.yaml", """
    version: 1
    params:
      n: 5
    stages:
      a:
        cmd: "${n}"
    """)
    done = lg(repo, "validate")
    assert "Traceback" not in done.stderr, done.stderr[-1500:]
    assert done.returncode == 2
    assert "pipelines/p.yaml:" in done.stderr


def test_param_escape_and_unknown_override(repo: Path):
    write(repo, "pipelines/p.yaml", r"""
    version: 1
    params:
      greeting: hi
      model: {depth: 3}
    stages:
      a:
        cmd: echo "${greeting} \${LG_REVIEW_VAR:-unset} ${model.depth}" > a.txt
        outs: [a.txt]
    """)
    assert outcomes(repo) == {"a": "ran"}
    assert (repo / "a.txt").read_text() == "hi unset 3\n"  # \${ reached the shell as ${
    lock = LockFile.read(repo / "pipelines/p.lock")
    assert lock.stages["a"].params == {"greeting": "hi", "model.depth": 3}
    done = lg(repo, "run", "-p", "model.dept=4", check=2)
    assert "did you mean 'model.depth'" in done.stderr
    assert outcomes(repo, "-p", "model.depth=4", "--name", "deep") == {"a": "ran"}
    assert (repo / "a.txt").read_text() == "hi unset 3\n"  # an experiment: the workspace is put back
    assert LockFile.read(repo / ".lockgate/experiments/deep/p.lock").stages["a"].params["model.depth"] == 4


# -- matrix ---------------------------------------------------------------------------------


def test_matrix_label_collision_is_not_silently_dropped(repo: Path):
    write(repo, "pipelines/p.yaml", """
    version: 1
    stages:
      t:
        matrix: {a: ["x-1", "x"], b: ["y", "1-y"]}
        cmd: echo "${item.a} ${item.b}" >> runs.txt
    """)
    done = lg(repo, "run")
    if done.returncode == 2:
        return  # refused with a spec error: fine
    ran = sorted((repo / "runs.txt").read_text().splitlines())
    assert ran == ["x 1-y", "x y", "x-1 1-y", "x-1 y"]


def test_matrix_cmd_metrics_can_be_gated(repo: Path):
    write(repo, "pipelines/p.yaml", """
    version: 1
    stages:
      bench:
        matrix: {kind: [rf, gbm]}
        cmd: "echo '{\\"speed\\": 2}' > bench-${item.kind}.json"
        metrics: ["bench-${item.kind}.json"]
      ship:
        matrix: {kind: [rf, gbm]}
        cmd: echo ok > ship-${item.kind}.txt
        outs: ["ship-${item.kind}.txt"]
        when: "bench.speed > 1"
    """)
    done = lg(repo, "run", "--json")
    assert done.returncode == 0, done.stderr[-800:]
    got = {s["stage"]: s["outcome"] for s in json.loads(done.stdout)["stages"]}
    assert got["ship@rf"] == got["ship@gbm"] == "ran"


def test_matrix_in_resolution_with_gates(repo: Path):
    write(repo, "src/__init__.py", "")
    write(repo, "src/s.py", """
    def data():
        return {"rows": 10}
    def train(*, kind):
        return {"quality": {"rf": 0.9, "gbm": 0.3}[kind]}
    def evaluate(model, test):
        return {"f1": model["quality"], "rows": test["rows"]}
    """)
    write(repo, "pipelines/p.yaml", """
    version: 1
    stages:
      data: {call: "src.s:data", out: [test]}
      train:
        matrix: {kind: [rf, gbm]}
        call: src.s:train
        with: {kind: "${item.kind}"}
        out: [model]
      evaluate:
        matrix: {kind: [rf, gbm]}
        call: src.s:evaluate
        in: {model: model, test: test}
        out: [scores]
      deploy:
        matrix: {kind: [rf, gbm]}
        cmd: echo ${item.kind} > deployed-${item.kind}.txt
        outs: ["deployed-${item.kind}.txt"]
        gates: ["scores.f1 >= 0.5"]
    """)
    got = outcomes(repo, code=3)
    assert got["deploy@rf"] == "ran" and got["deploy@gbm"] == "blocked"
    lock = LockFile.read(repo / "pipelines/p.lock")
    assert lock.stages["evaluate@rf"].metrics == {"scores@rf": {"f1": 0.9, "rows": 10}}
    assert lock.stages["evaluate@gbm"].metrics == {"scores@gbm": {"f1": 0.3, "rows": 10}}
    assert lock.stages["deploy@gbm"].gates[0]["values"] == {"scores.f1": 0.3}
    again = outcomes(repo, code=3)
    assert again["deploy@rf"] == "cached" and again["evaluate@gbm"] == "cached"


# -- metrics --------------------------------------------------------------------------------


def test_nan_in_returned_metrics_does_not_fail_the_stage(repo: Path):
    write(repo, "src/__init__.py", "")
    write(repo, "src/s.py", """
    def score():
        return {"auc": float("nan"), "f1": 0.9}
    """)
    write(repo, "pipelines/p.yaml", """
    version: 1
    stages:
      ev: {call: "src.s:score", out: [scores]}
      ship:
        cmd: echo ok > ship.txt
        outs: [ship.txt]
        gates: ["scores.f1 > 0.5"]
    """)
    assert outcomes(repo, code=None) == {"ev": "ran", "ship": "ran"}


def test_nan_in_cmd_metrics_file_blocks_its_gate_and_audits(repo: Path):
    write(repo, "pipelines/p.yaml", """
    version: 1
    stages:
      m:
        cmd: "echo '{\\"auc\\": NaN, \\"f1\\": 0.9}' > m.json"
        metrics: [m.json]
      deploy:
        cmd: echo ok > d.txt
        outs: [d.txt]
        gates: ["m.f1 > 0.5", "m.auc > 0.5"]
    """)
    assert outcomes(repo, code=3) == {"m": "ran", "deploy": "blocked"}
    assert outcomes(repo, code=3) == {"m": "cached", "deploy": "blocked"}
    lg(repo, "audit", "verify", check=0)
    assert not (repo / "d.txt").exists()


# -- the lock file, the run-cache and gc ------------------------------------------------------

COUNTED = """
version: 1
params:
  rows: 5
stages:
  a:
    cmd: mkdir -p runs && echo x >> runs/a && seq ${rows} > a.txt
    outs: [a.txt]
  b:
    cmd: mkdir -p runs && echo x >> runs/b && wc -l < a.txt > b.txt
    deps: [a.txt]
    outs: [b.txt]
"""


def _runs(repo: Path, stage: str) -> int:
    path = repo / "runs" / stage
    return len(path.read_text().splitlines()) if path.exists() else 0


def test_invalid_yaml_lock_restores_from_run_cache(repo: Path):
    write(repo, "pipelines/p.yaml", COUNTED)
    outcomes(repo)
    lock = repo / "pipelines/p.lock"
    lock.write_text(lock.read_text()[:200] + "\n  - [unclosed: {\n", encoding="utf-8")
    assert outcomes(repo) == {"a": "restored", "b": "restored"}
    assert _runs(repo, "a") == _runs(repo, "b") == 1
    assert set(yaml.safe_load(lock.read_text())["stages"]) == {"a", "b"}


def test_damaged_output_record_in_lock_only_makes_the_stage_stale(repo: Path):
    write(repo, "pipelines/p.yaml", COUNTED)
    outcomes(repo)
    lock = repo / "pipelines/p.lock"
    data = yaml.safe_load(lock.read_text())
    data["stages"]["a"]["outputs"]["a.txt"]["digest"] = "0b8b"
    lock.write_text(yaml.safe_dump(data), encoding="utf-8")
    done = lg(repo, "run", "--json")
    assert done.returncode == 0, done.stdout[-400:] + done.stderr[-400:]
    got = {s["stage"]: s["outcome"] for s in json.loads(done.stdout)["stages"]}
    assert got["a"] in ("ran", "restored") and got["b"] in ("cached", "ran", "restored")


def test_run_cache_entry_whose_objects_are_gone_reruns(repo: Path):
    write(repo, "pipelines/p.yaml", COUNTED)
    outcomes(repo)
    first = LockFile.read(repo / "pipelines/p.lock").stages["a"].outputs["a.txt"]["digest"]
    spec = repo / "pipelines/p.yaml"
    spec.write_text(spec.read_text().replace("rows: 5", "rows: 7"))
    outcomes(repo)
    spec.write_text(spec.read_text().replace("rows: 7", "rows: 5"))
    # the run-cache still maps rows=5 to `first`; its object disappears (gc, a cleaned cache)
    obj = repo / ".lockgate/cache/objects" / first[:2] / first[2:]
    assert obj.exists()
    obj.unlink()
    assert outcomes(repo) == {"a": "ran", "b": "restored"}  # b's object is still there
    assert (repo / "a.txt").read_text() == "1\n2\n3\n4\n5\n"
    assert (repo / "b.txt").read_text().strip() == "5"
    # and through `lockgate gc`: the rows=7 objects go, their run-cache entries too
    lg(repo, "gc", check=0)
    spec.write_text(spec.read_text().replace("rows: 5", "rows: 7"))
    assert outcomes(repo) == {"a": "ran", "b": "ran"}
    assert (repo / "b.txt").read_text().strip() == "7"


def test_deleted_and_renamed_stages(repo: Path):
    write(repo, "pipelines/p.yaml", COUNTED)
    outcomes(repo)
    renamed = COUNTED.replace("  b:\n", "  count:\n")
    write(repo, "pipelines/p.yaml", renamed)
    assert outcomes(repo) == {"a": "cached", "count": "restored"}  # same fingerprint: not re-run
    assert _runs(repo, "b") == 1
    lock = LockFile.read(repo / "pipelines/p.lock")
    assert set(lock.stages) == {"a", "count"}
    write(repo, "pipelines/p.yaml", renamed[: renamed.index("  count:")])
    assert outcomes(repo) == {"a": "cached"}
    assert set(LockFile.read(repo / "pipelines/p.lock").stages) == {"a"}


# -- cmd outputs in the workspace -------------------------------------------------------------

FOLDER = """
version: 1
stages:
  a:
    cmd: mkdir -p od/sub && echo 1 > od/f.txt && echo 2 > od/sub/g.txt
    outs: [od]
"""


def test_modified_folder_output_is_restored_exactly(repo: Path):
    write(repo, "pipelines/p.yaml", FOLDER)
    outcomes(repo)
    write(repo, "od/f.txt", "edited\n")
    (repo / "od/sub/g.txt").unlink()
    write(repo, "od/extra.txt", "x\n")
    assert outcomes(repo) == {"a": "restored"}
    files = sorted(p.relative_to(repo / "od").as_posix() for p in (repo / "od").rglob("*") if p.is_file())
    assert files == ["f.txt", "sub/g.txt"]
    assert (repo / "od/f.txt").read_text() == "1\n"
    assert status(repo)["a"]["outcome"] == "cached"


def test_edited_output_is_not_reported_missing(repo: Path):
    write(repo, "pipelines/p.yaml", FOLDER)
    outcomes(repo)
    write(repo, "od/f.txt", "edited\n")
    reasons = status(repo)["a"].get("reasons", [])
    assert reasons and not any("missing" in r for r in reasons), reasons


def test_folder_output_replaced_by_a_file_is_restored(repo: Path):
    write(repo, "pipelines/p.yaml", FOLDER)
    outcomes(repo)
    import shutil

    shutil.rmtree(repo / "od")
    write(repo, "od", "not a folder\n")
    done = lg(repo, "run")
    assert "Traceback" not in done.stderr, done.stderr[-1500:]
    assert done.returncode == 0
    assert (repo / "od/sub/g.txt").read_text() == "2\n"


def test_unicode_and_spaces_in_cmd_paths(repo: Path):
    write(repo, "in dir/dätä 1.txt", "ü\n")
    write(repo, "pipelines/p.yaml", """
    version: 1
    stages:
      a:
        cmd: mkdir -p "out dir" && cat "in dir/dätä 1.txt" > "out dir/résumé ✓.txt"
        deps: ["in dir/dätä 1.txt"]
        outs: ["out dir/résumé ✓.txt"]
      b:
        cmd: cat "out dir/résumé ✓.txt" "out dir/résumé ✓.txt" > "b out.txt"
        deps: ["out dir"]
        outs: ["b out.txt"]
    """)
    assert outcomes(repo) == {"a": "ran", "b": "ran"}
    assert outcomes(repo) == {"a": "cached", "b": "cached"}
    (repo / "out dir/résumé ✓.txt").unlink()
    assert outcomes(repo) == {"a": "restored", "b": "cached"}
    write(repo, "in dir/dätä 1.txt", "ö\n")
    assert outcomes(repo) == {"a": "ran", "b": "ran"}
    assert (repo / "b out.txt").read_text() == "ö\nö\n"
    assert "dätä" in (repo / "pipelines/p.lock").read_text(encoding="utf-8")


# -- several pipelines ----------------------------------------------------------------------------


def test_spec_error_in_another_pipeline_does_not_stop_a_named_run(repo: Path):
    write(repo, "pipelines/good.yaml", """
    version: 1
    stages:
      a:
        cmd: echo hi > a.txt
        outs: [a.txt]
    """)
    write(repo, "pipelines/bad.yaml", """
    version: 1
    stages:
      a:
        cmd: echo hi > b.txt
        outz: [b.txt]
    """)
    assert outcomes(repo, "good") == {"a": "ran"}
    assert outcomes(repo, "good", "a") == {"a": "cached"}
    lg(repo, "status", "good", "--check", check=0)
    done = lg(repo, "run", check=2)  # all pipelines: the broken one is named, nothing runs
    assert "pipelines/bad.yaml:5" in done.stderr and "outs" in done.stderr


def test_two_pipelines_writing_the_same_path(repo: Path):
    write(repo, "pipelines/p1.yaml", """
    version: 1
    stages:
      a:
        cmd: echo one > shared.txt
        outs: [shared.txt]
    """)
    write(repo, "pipelines/p2.yaml", """
    version: 1
    stages:
      b:
        cmd: echo two > shared.txt
        outs: [shared.txt]
    """)
    first = lg(repo, "run")
    if first.returncode == 2:
        assert "shared.txt" in first.stderr
        return
    assert outcomes(repo) == {"a": "cached", "b": "cached"}
