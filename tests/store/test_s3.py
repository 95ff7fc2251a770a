"""Remote caches on a real S3-speaking server (moto) on 127.0.0.1.

The server, the bucket and every client stay on loopback: credentials are
dummies from the environment, the EC2 metadata lookup is off, and every URI
carries ``endpoint_override=127.0.0.1:PORT&scheme=http``.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from lockgate.store.local import LocalStore
from lockgate.store.remote import Remote
from tests.conftest import git, write
from tests.e2e.helpers import count, lg
from tests.e2e.test_engine import SPEC, STEPS

moto_server = pytest.importorskip("moto.server")

S3_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_REGION": "us-east-1",
    "AWS_EC2_METADATA_DISABLED": "true",
    "AWS_CONFIG_FILE": os.devnull,
    "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
}


@pytest.fixture(scope="module")
def endpoint() -> Iterator[str]:
    """``127.0.0.1:PORT`` of a moto S3 server; the AWS variables point at dummies
    for this module (subprocesses inherit them)."""
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # one line per request otherwise
    saved = {key: os.environ.get(key) for key in S3_ENV}
    os.environ.update(S3_ENV)
    server = moto_server.ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield f"{host}:{port}"
    finally:
        server.stop()
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def _filesystem(endpoint: str):
    import pyarrow.fs as pafs

    return pafs.S3FileSystem(
        endpoint_override=endpoint, scheme="http", access_key="testing", secret_key="testing",
        region="us-east-1", allow_bucket_creation=True,
    )


@pytest.fixture
def bucket_uri(endpoint: str, request: pytest.FixtureRequest) -> str:
    """A fresh bucket per test, as the URI a user writes in lockgate.toml."""
    name = "lg-" + request.node.name.replace("_", "-").lower()[:50]
    _filesystem(endpoint).create_dir(name)
    return f"s3://{name}/cache?endpoint_override={endpoint}&scheme=http"


def _corrupt_remote(endpoint: str, bucket_uri: str, digest: str) -> None:
    bucket = bucket_uri.removeprefix("s3://").split("?")[0]
    with _filesystem(endpoint).open_output_stream(f"{bucket}/objects/{digest[:2]}/{digest[2:]}") as out:
        out.write(b"rotten bytes")


def test_push_and_pull_move_only_missing_objects(tmp_path: Path, bucket_uri: str) -> None:
    here, there = LocalStore(tmp_path / "here"), LocalStore(tmp_path / "there")
    remote = Remote(bucket_uri, jobs=4)
    digests = [here.put_bytes(os.urandom(2000) + bytes([i])) for i in range(12)]
    first = remote.push(here, digests[:4])
    assert first.ok and sorted(first.transferred) == sorted(digests[:4])
    report = remote.push(here, digests)
    assert report.ok and sorted(report.skipped) == sorted(digests[:4])
    assert sorted(report.transferred) == sorted(digests[4:])
    assert remote.digests() == sorted(digests)
    there.put_bytes(here.get_bytes(digests[0]))
    pulled = remote.pull(there, digests)
    assert pulled.ok and pulled.skipped == [digests[0]]
    assert all(there.get_bytes(d) == here.get_bytes(d) for d in digests)


def test_a_corrupt_remote_object_is_rejected(tmp_path: Path, endpoint: str, bucket_uri: str) -> None:
    here, there = LocalStore(tmp_path / "here"), LocalStore(tmp_path / "there")
    remote = Remote(bucket_uri)
    good, bad = here.put_bytes(b"good object"), here.put_bytes(b"object that will rot")
    assert remote.push(here, [good, bad]).ok
    _corrupt_remote(endpoint, bucket_uri, bad)
    report = remote.pull(there, [good, bad])
    assert report.transferred == [good]
    assert "corrupt" in report.failed[bad]
    assert not there.has(bad)


# -- the commands, from one clone to a fresh one ------------------------------------------


@pytest.fixture
def pushed(repo: Path, bucket_uri: str) -> Path:
    """A project that ran, pushed to its default remote, and committed its locks."""
    write(repo, "pipelines/demo.yaml", SPEC)
    write(repo, "src/__init__.py", "")
    write(repo, "src/steps.py", STEPS)
    write(repo, ".gitignore", "runs/\nout/\nother.txt\n")
    write(repo, "lockgate.toml", f'[remotes]\ndefault = "shared"\n\n[remotes.shared]\nurl = "{bucket_uri}"\n')
    lg(repo, "run", check=0)
    done = lg(repo, "push", check=0)
    assert done.stdout.startswith("pushed ") and "0 already there" in done.stdout
    again = lg(repo, "push", check=0)
    assert again.stdout.startswith("pushed 0 objects")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "pipeline and locks")
    return repo


def _clone(source: Path, target: Path) -> Path:
    git(source.parent, "clone", "-q", str(source), str(target))
    assert not (target / ".lockgate").exists()
    return target


def test_run_pull_in_a_fresh_clone_restores_without_running(pushed: Path, tmp_path: Path) -> None:
    clone = _clone(pushed, tmp_path / "clone")
    done = lg(clone, "run", "--pull", "--json", check=0)
    outcomes = {s["stage"]: s["outcome"] for s in json.loads(done.stdout)["stages"]}
    assert set(outcomes.values()) <= {"restored", "cached"}, outcomes
    assert outcomes["stats"] == "cached"  # `--pull` put write's outputs back before the run: cached too
    assert not (clone / "runs").exists()  # no stage ran
    assert (clone / "out/shout.txt").read_text() == "HELLO\n"
    assert "pulled " in done.stderr


def test_pull_then_run_and_pull_of_one_stage(pushed: Path, tmp_path: Path) -> None:
    one = _clone(pushed, tmp_path / "one")
    done = lg(one, "pull", "stats", check=0)
    assert done.stdout.startswith("pulled 1 objects")
    summary = lg(one, "show", "summary", "--json", check=0)
    assert '"rows": 5' in summary.stdout
    missing = lg(one, "pull", "nosuchthing", check=2)
    assert "'nosuchthing' is neither a stage in a lock file nor an artifact" in missing.stderr

    full = _clone(pushed, tmp_path / "full")
    lg(full, "pull", check=0)
    done = lg(full, "run", "--json", check=0)
    assert {s["outcome"] for s in json.loads(done.stdout)["stages"]} <= {"restored", "cached"}
    assert count(full, "write") == 0 and count(full, "table") == 0


def test_pull_rejects_a_corrupt_remote_object(pushed: Path, tmp_path: Path, endpoint: str,
                                              bucket_uri: str) -> None:
    from lockgate.lock import LockFile

    lock = LockFile.read(pushed / "pipelines/demo.lock", "demo")
    record = lock.stages["stats"].outputs["summary"]
    digest = record.get("object") or record["digest"]
    _corrupt_remote(endpoint, bucket_uri, digest)
    clone = _clone(pushed, tmp_path / "clone")
    done = lg(clone, "pull", check=1)
    assert f"error: {digest[:12]}: the remote object is corrupt" in done.stderr
    assert not LocalStore(clone / ".lockgate/cache").has(digest)
    # run --pull restores what it can and runs only the stage whose object was bad
    ran = lg(clone, "run", "--pull", "--json", check=0)
    outcomes = {s["stage"]: s["outcome"] for s in json.loads(ran.stdout)["stages"]}
    assert outcomes["stats"] == "ran" and outcomes["table"] == "cached"
    assert f"warning: not pulled {digest[:12]}" in ran.stderr
