"""lockgate.gitrev's small git helpers: what the audit log, promotions and `gc --all-commits` ask git."""

from __future__ import annotations

from pathlib import Path

import pytest

from lockgate import gitrev
from lockgate.errors import UsageError
from lockgate.reachable import _git_lock_texts
from tests.conftest import git, write


def test_outside_git_the_lenient_helpers_answer_empty(tmp_path: Path):
    assert gitrev.current_commit(tmp_path) == ""
    assert gitrev.all_commits(tmp_path) == []
    assert gitrev.ls_tree(tmp_path, "HEAD", ["pipelines"]) == []
    assert gitrev.git(tmp_path, "rev-parse", "HEAD", check=False) == ""
    with pytest.raises(UsageError, match="^git rev-parse: "):
        gitrev.git(tmp_path, "rev-parse", "HEAD")


def test_before_the_first_commit_there_is_no_head(repo: Path):
    assert gitrev.current_commit(repo) == ""
    assert gitrev.all_commits(repo) == []


def test_author_drops_the_timestamp(repo: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("GIT_AUTHOR_NAME", "Ada Lovelace")
    monkeypatch.setenv("GIT_AUTHOR_EMAIL", "ada@example.com")
    assert gitrev.author(repo) == "Ada Lovelace <ada@example.com>"


def test_every_commits_lock_and_registry_texts_once(repo: Path):
    write(repo, "pipelines/p.lock", "schema: 1\n")
    write(repo, "registry/m.yaml", "name: m\n")
    write(repo, "notes.txt", "not read\n")
    git(repo, "add", ".")
    git(repo, "commit", "-q", "-m", "one")
    first = gitrev.current_commit(repo)
    write(repo, "pipelines/p.lock", "schema: 1\nstages: {}\n")
    git(repo, "commit", "-q", "-am", "two")
    assert gitrev.all_commits(repo) == [gitrev.current_commit(repo), first]
    listed = gitrev.ls_tree(repo, first, ["pipelines", "registry"])
    assert [path for _, path in listed] == ["pipelines/p.lock", "registry/m.yaml"]
    assert gitrev.read_object(repo, listed[0][0]) == "schema: 1\n"
    texts = list(_git_lock_texts(repo))
    assert sorted(texts) == ["name: m\n", "schema: 1\n", "schema: 1\nstages: {}\n"]  # m.yaml once
