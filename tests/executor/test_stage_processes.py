"""A shell stage's processes: supervised, stopped with their stage, never started after an interrupt."""

from __future__ import annotations

import subprocess
import threading
import time
from pathlib import Path

import pytest

from lockgate.executor import worker
from lockgate.executor.local import LocalExecutor
from lockgate.executor.supervisor import command_argv
from lockgate.executor.worker import Job, accept_new_stages, run_job
from lockgate.graph.stage import Stage
from lockgate.project import Layout
from tests.conftest import alive


def _job(root: Path, command: str, outs: tuple[str, ...] = ()) -> Job:
    stage = Stage(name="s", kind="cmd", run=command, pipeline="p", outs=outs)
    return Job(stage=stage, root=str(root), layout=Layout.of(root),
               log_path=str(root / ".lockgate/logs/p/s.log"), inputs={}, deps={})


@pytest.fixture(autouse=True)
def _fresh_run():
    accept_new_stages()
    yield
    accept_new_stages()


@pytest.mark.parametrize(("command", "code"), [
    ("exit 7", 7),
    ("kill -TERM $$", -15),  # killed by a signal: reported as such, not as exit 143
    ("trap '' TERM; kill 0; exit 0", 0),  # a stage signalling its own group does not kill the supervisor
    ("yes | head -1 > /dev/null", 0),  # SIGPIPE has its default action again in the shell
])
def test_the_supervisor_ends_as_its_shell_did(tmp_path: Path, command: str, code: int):
    done = subprocess.run(command_argv(command), cwd=tmp_path, start_new_session=True, timeout=30)
    assert done.returncode == code


def test_the_supervisor_stops_what_its_shell_left_running_before_it_exits(tmp_path: Path):
    """Not only the worker's kill after the supervisor's exit: lockgate may be killed in
    between, and then nobody else would stop a background writer."""
    done = subprocess.run(command_argv("sleep 30 & echo $! > bg.pid; exit 3"), cwd=tmp_path,
                          start_new_session=True, capture_output=True, text=True, timeout=30)
    assert done.returncode == 3  # the shell's code, still
    pid = int((tmp_path / "bg.pid").read_text())
    deadline = time.monotonic() + 5  # killed already; its new parent may take a moment to reap it
    while alive(pid) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert not alive(pid)
    assert "stopped 1 process(es) the command left running" in done.stderr


def test_a_job_picked_up_after_an_interrupt_never_starts(tmp_path: Path):
    """The race Ctrl-C loses today: a pool thread takes a queued job just as the run is
    cancelled. The executor's only worker is busy, so the shell job waits in the queue,
    and is picked up only after ``cancel_running``."""
    executor = LocalExecutor(1)
    release = threading.Event()
    try:
        busy = executor.submit(lambda job: release.wait(30), None)
        queued = executor.submit(run_job, _job(tmp_path, "touch started", outs=("started",)))
        executor.cancel_running()
        release.set()
        busy.result(timeout=30)
        result = queued.result(timeout=30)
        assert not result.ok and result.cancelled, result
        assert "interrupted" in result.error
        assert not (tmp_path / "started").exists(), "a stage started after the interrupt"

        accept_new_stages()  # the next run (`watch` runs many in one process)
        again = executor.submit(run_job, _job(tmp_path, "touch started", outs=("started",))).result(timeout=30)
        assert again.ok, again.error
        assert (tmp_path / "started").exists()
    finally:
        release.set()
        executor.close()


def test_cancel_kills_the_stage_and_its_children(tmp_path: Path):
    executor = LocalExecutor(1)
    try:
        future = executor.submit(run_job, _job(tmp_path, "sleep 30 & echo $! > bg.pid; sleep 30"))
        pid_file = tmp_path / "bg.pid"
        deadline = time.monotonic() + 30
        while not (pid_file.exists() and pid_file.read_text().strip()):
            assert time.monotonic() < deadline
            time.sleep(0.02)
        executor.cancel_running()
        result = future.result(timeout=30)
        assert result.cancelled and not result.ok
        assert not alive(int(pid_file.read_text()))
    finally:
        executor.close()


def test_a_stage_ends_with_its_shell_and_leaves_no_process_behind(tmp_path: Path):
    """A background process the command left running would write into the workspace
    after the stage was recorded: it dies when the stage's shell exits."""
    result = run_job(_job(tmp_path, "sleep 30 & echo $! > bg.pid; echo ok > out.txt", outs=("out.txt",)))
    assert result.ok, result.error
    pid = int((tmp_path / "bg.pid").read_text())
    deadline = time.monotonic() + 10
    while alive(pid) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert not alive(pid), "the stage's background process outlived it"
    assert not list((tmp_path / ".lockgate/procs").glob("*.json")), "the stage's record outlived it"


def test_the_exit_status_counts_only_when_lockgate_saw_it(tmp_path: Path):
    result = run_job(_job(tmp_path, "echo partial > out.txt; exit 3", outs=("out.txt",)))
    assert not result.ok and not result.outputs
    assert result.error == "command exited with code 3: echo partial > out.txt; exit 3"
    assert worker._RUNNING == set()
