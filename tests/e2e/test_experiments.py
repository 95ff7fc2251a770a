"""`run -p` is an experiment: the override reaches programs that read params files
themselves, nothing it records claims a value the program did not see, and the
committed picture (lock, params file, outputs, registry, audit log) is left alone
until `lockgate exp apply`."""

from __future__ import annotations

import json
from pathlib import Path

from lockgate.lock import LockFile
from tests.conftest import git, write
from tests.e2e.helpers import lg

PARAMS = """\
# the team's knobs: comments must survive `exp apply`
featurize:
  max_features: 10   # vocabulary size
seed: 7
"""

SPEC = """
version: 1
params_file: params.yaml
params:
  secret: 1
stages:
  featurize:
    cmd: python src/featurize.py
    deps: [src/featurize.py]
    params: [featurize.max_features]
    outs: [out/features.txt]
    metrics: [out/metrics.json]
"""

# a DVC-style script: it reads params.yaml itself, as example-get-started's do
FEATURIZE = """
import json, pathlib, yaml
params = yaml.safe_load(open("params.yaml"))["featurize"]
out = pathlib.Path("out"); out.mkdir(exist_ok=True)
(out / "features.txt").write_text(f"max_features={params['max_features']}\\n")
(out / "metrics.json").write_text(json.dumps({"quality": {"test": params["max_features"] / 1000}}))
with open("runs.txt", "a") as f:
    f.write(f"{params['max_features']}\\n")
"""


def _project(repo: Path) -> Path:
    write(repo, "params.yaml", PARAMS)
    write(repo, "pipelines/p.yaml", SPEC)
    write(repo, "src/featurize.py", FEATURIZE)
    write(repo, ".gitignore", "/out/\n/runs.txt\n")
    return repo


def runs(repo: Path) -> list[str]:
    return (repo / "runs.txt").read_text().split()


def test_an_override_reaches_a_program_that_reads_its_params_file_and_stays_an_experiment(repo: Path):
    _project(repo)
    lg(repo, "run", check=0)
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "base")
    committed = {p: (repo / p).read_bytes() for p in ("params.yaml", "pipelines/p.lock")}

    done = lg(repo, "run", "-p", "featurize.max_features=100", "--name", "wide", check=0)
    assert runs(repo) == ["10", "100"]  # the program saw the override, not the file's 10
    assert "experiment 'wide'" in done.stderr and "lockgate exp apply wide" in done.stderr
    # the committed picture is untouched: params file, lock, workspace output
    assert {p: (repo / p).read_bytes() for p in committed} == committed
    assert (repo / "out/features.txt").read_text() == "max_features=10\n"
    assert git(repo, "status", "--porcelain") == ""
    lg(repo, "status", "--check", check=0)
    shown = lg(repo, "metrics", "show", "--json", check=0).stdout
    assert json.loads(shown)["p"]["featurize"]["featurize"]["quality"]["test"] == 0.01
    # the experiment's own lock records what the program really read
    exp_lock = LockFile.read(repo / ".lockgate/experiments/wide/p.lock").stages["featurize"]
    assert exp_lock.params == {"featurize.max_features": 100}
    assert exp_lock.metrics["out/metrics.json"] == {"quality": {"test": 0.1}}

    listed = json.loads(lg(repo, "exp", "list", "--json", check=0).stdout)
    assert [(e["name"], e["overrides"], e["exit_code"]) for e in listed] == [
        ("wide", ["featurize.max_features=100"], 0)]
    diff = json.loads(lg(repo, "exp", "diff", "wide", "--json", check=0).stdout)
    change = diff["metrics"]["p"]["featurize"]["featurize.quality.test"]
    assert (change["old"], change["new"]) == (0.01, 0.1)
    assert diff["params"]["p"]["featurize"]["featurize.max_features"]["new"] == 100

    # the file now really says 100: the run-cache entry is honest, so it restores
    (repo / "params.yaml").write_text(PARAMS.replace("10   #", "100   #"))
    got = json.loads(lg(repo, "run", "--json", check=0).stdout)["stages"]
    assert [s["outcome"] for s in got] == ["restored"] and runs(repo) == ["10", "100"]
    assert (repo / "out/features.txt").read_text() == "max_features=100\n"

    git(repo, "checkout", "-q", "--", "params.yaml", "pipelines/p.lock")
    lg(repo, "run", check=0)  # back to the committed picture (restored, nothing ran)
    assert runs(repo) == ["10", "100"]
    applied = lg(repo, "exp", "apply", "wide", check=0).stdout
    assert "params.yaml" in applied
    assert (repo / "params.yaml").read_text() == PARAMS.replace("10   #", "100   #")  # comments kept
    assert (repo / "pipelines/p.lock").read_bytes() == (repo / ".lockgate/experiments/wide/p.lock").read_bytes()
    lg(repo, "status", "--check", check=0)
    assert (repo / "out/features.txt").read_text() == "max_features=100\n"


def test_an_override_no_params_file_can_carry_is_refused_before_anything_runs(repo: Path):
    _project(repo)
    (repo / "pipelines/p.yaml").write_text(SPEC.replace("params: [featurize.max_features]",
                                                       "params: [featurize.max_features, secret]"))
    done = lg(repo, "run", "-p", "secret=2", check=2)
    assert done.stderr.startswith("error: -p secret: stage 'featurize' reads 'secret' by itself")
    assert "pass it on the command line as ${secret}" in done.stderr
    assert not (repo / "runs.txt").exists() and not (repo / "pipelines/p.lock").exists()
