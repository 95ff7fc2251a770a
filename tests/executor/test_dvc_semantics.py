"""DVC's stage semantics in the runner: outputs removed before a command runs unless
persist: true, cache: false outputs never stored nor restored, always_changed stages
always run, frozen stages never run, and wdir is where the command runs."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from lockgate.cli.main import main
from lockgate.lock import LockFile
from tests.conftest import write


def run(repo: Path, *args: str):
    return CliRunner().invoke(main, ["-C", str(repo), *args])


def lock(repo: Path) -> LockFile:
    return LockFile.read(repo / "pipelines" / "p.lock", "p")


def test_outputs_are_removed_before_the_command_unless_they_persist(repo: Path):
    write(repo, "pipelines/p.yaml", """
    version: 1
    params: {n: 1}
    stages:
      a:
        cmd: mkdir -p out && echo ${n} >> out/log && echo ${n} >> kept.txt
        outs:
          - out
          - kept.txt: {persist: true}
    """)
    assert run(repo, "run").exit_code == 0
    write(repo, "pipelines/p.yaml", (repo / "pipelines/p.yaml").read_text().replace("{n: 1}", "{n: 2}"))
    assert run(repo, "run").exit_code == 0
    assert (repo / "out/log").read_text() == "2\n"  # removed first, as dvc repro does
    assert (repo / "kept.txt").read_text() == "1\n2\n"  # persist: true


def test_cache_false_outputs_are_recorded_never_stored_and_rebuilt_when_changed(repo: Path):
    write(repo, "pipelines/p.yaml", """
    version: 1
    stages:
      a:
        cmd: echo x >> runs.txt && echo result > report.txt
        outs:
          - report.txt: {cache: false}
    """)
    assert run(repo, "run").exit_code == 0
    record = lock(repo).stages["a"].outputs["report.txt"]
    assert record["cache"] is False
    assert not any((repo / ".lockgate/cache/objects").rglob(record["digest"][2:]))
    assert run(repo, "run").output.count("ran") == 0  # in place: up to date
    (repo / "report.txt").write_text("edited\n")
    again = run(repo, "run", "--json")
    assert json.loads(again.output)["stages"][0]["outcome"] == "ran"  # never restored: it runs again
    assert (repo / "report.txt").read_text() == "result\n"
    assert (repo / "runs.txt").read_text() == "x\nx\n"
    assert run(repo, "verify").exit_code == 0  # nothing is missing: it was never stored


def test_always_changed_runs_every_time_and_wdir_is_the_working_folder(repo: Path):
    write(repo, "sub/input.txt", "hello\n")
    write(repo, "pipelines/p.yaml", """
    version: 1
    stages:
      a:
        wdir: sub
        cmd: cat input.txt > copy.txt && pwd > where.txt && echo x >> ../runs.txt
        deps: [input.txt]
        outs: [copy.txt, where.txt]
        always_changed: true
    """)
    assert run(repo, "run").exit_code == 0
    assert (repo / "sub/copy.txt").read_text() == "hello\n"
    assert Path((repo / "sub/where.txt").read_text().strip()).name == "sub"
    assert set(lock(repo).stages["a"].outputs) == {"sub/copy.txt", "sub/where.txt"}
    status = json.loads(run(repo, "status", "--json").output)
    assert status["stages"][0]["reasons"] == ["always changed"]
    assert run(repo, "run").exit_code == 0
    assert (repo / "runs.txt").read_text() == "x\nx\n"  # not restored from the lock nor the run-cache


def test_a_frozen_stage_never_runs_and_needs_a_lock_entry(repo: Path):
    write(repo, "pipelines/p.yaml", """
    version: 1
    params: {n: 1}
    stages:
      a:
        cmd: echo ${n} > a.txt
        outs: [a.txt]
        frozen: true
    """)
    first = run(repo, "run")
    assert first.exit_code == 1 and "unfreeze it (remove frozen: true) to run it once" in first.output
    spec = (repo / "pipelines/p.yaml").read_text()
    write(repo, "pipelines/p.yaml", spec.replace("frozen: true", "frozen: false"))
    assert run(repo, "run").exit_code == 0
    write(repo, "pipelines/p.yaml", spec.replace("{n: 1}", "{n: 2}"))
    (repo / "a.txt").unlink()
    done = run(repo, "run", "-f", "--json")
    assert done.exit_code == 0, done.output
    assert json.loads(done.output)["stages"][0]["outcome"] == "restored"  # put back, not run
    assert (repo / "a.txt").read_text() == "1\n"
    assert lock(repo).stages["a"].params == {"n": 1}


def test_an_override_reaches_every_params_file_a_program_reads(repo: Path):
    write(repo, "base.yaml", "train: {lr: 0.1}\n")
    write(repo, "local.yaml", "train: {epochs: 3}\n")
    write(repo, "sub/model.json", '{"depth": 4}')
    write(repo, "show.py", """
    import json, sys, yaml
    base, local = yaml.safe_load(open("base.yaml")), yaml.safe_load(open("local.yaml"))
    depth = json.load(open("sub/model.json"))["depth"]
    open("seen.txt", "a").write(f"{base['train']['lr']} {local['train']['epochs']} {depth}\\n")
    open("out.txt", "w").write("ok\\n")
    """)
    write(repo, "pipelines/p.yaml", """
    version: 1
    params_file: [base.yaml, local.yaml]
    stages:
      a:
        cmd: python show.py
        deps: [show.py]
        params:
          - train.lr
          - train.epochs
          - sub/model.json: [depth]
        outs: [out.txt]
    """)
    files = {name: (repo / name).read_bytes() for name in ("base.yaml", "local.yaml", "sub/model.json")}
    done = run(repo, "run", "-p", "train.lr=0.5", "-p", "train.epochs=7", "-p", "depth=9", "--name", "e1")
    assert done.exit_code == 0, done.output
    assert (repo / "seen.txt").read_text() == "0.5 7 9\n"
    assert {name: (repo / name).read_bytes() for name in files} == files  # put back byte for byte
    assert run(repo, "exp", "apply", "e1").exit_code == 0
    assert "epochs: 7" in (repo / "local.yaml").read_text() and "lr: 0.5" in (repo / "base.yaml").read_text()
    assert json.loads((repo / "sub/model.json").read_text()) == {"depth": 9}  # still JSON
