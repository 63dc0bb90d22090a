"""Keeping a course's Git checkout fresh, against real local repositories and real git."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from ingest.git_source import GitRefresh, GitSource, redact, refresh


def git(*args: str, cwd: Path | None = None) -> str:
    done = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, check=True)
    return done.stdout.strip()


@pytest.fixture(autouse=True)
def hermetic_git(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Commits work on a machine without git config, and nobody's config leaks in."""
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", str(tmp_path / "gitconfig"))
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    for role in ("AUTHOR", "COMMITTER"):
        monkeypatch.setenv(f"GIT_{role}_NAME", "Instructor")
        monkeypatch.setenv(f"GIT_{role}_EMAIL", "instructor@example.com")


class Remote:
    """A bare repository standing in for the course's host, and a work clone that pushes to it."""

    def __init__(self, root: Path) -> None:
        self.bare = root / "remote.git"
        self.work = root / "work"
        git("-c", "init.defaultBranch=main", "init", "-q", "--bare", str(self.bare))
        git("-c", "init.defaultBranch=main", "init", "-q", str(self.work))
        git("remote", "add", "origin", str(self.bare), cwd=self.work)

    @property
    def source(self) -> GitSource:
        return GitSource(str(self.bare))

    def commit(self, files: dict[str, str], *, remove: tuple[str, ...] = ()) -> None:
        for name, text in files.items():
            path = self.work / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
        for name in remove:
            (self.work / name).unlink()
        git("add", "-A", cwd=self.work)
        git("commit", "-q", "-m", f"update {sorted(files)}", cwd=self.work)

    def push(self, branch: str = "main", *, force: bool = False) -> None:
        git("push", "-q", *(["--force"] if force else []), "origin", branch, cwd=self.work)

    def head(self, branch: str = "main") -> str:
        return git("rev-parse", f"refs/heads/{branch}", cwd=self.bare)


@pytest.fixture
def remote(tmp_path: Path) -> Remote:
    remote = Remote(tmp_path)
    remote.commit({"README.md": "# Course\n", "lectures/week1.md": "Tracebacks.\n"})
    remote.push()
    return remote


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def silent_server() -> Iterator[int]:
    """A TCP port that completes the handshake and then never says a word."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(8)
        yield sock.getsockname()[1]


def test_first_refresh_clones_the_default_branch(remote: Remote, tmp_path: Path) -> None:
    checkout = tmp_path / "mirrors" / "course"

    result = refresh(remote.source, checkout)

    assert result == GitRefresh(checkout, remote.head(), True, None)
    assert (checkout / "lectures" / "week1.md").read_text() == "Tracebacks.\n"
    assert sorted(p.name for p in checkout.parent.iterdir()) == ["course"]


def test_new_commits_are_pulled_and_an_unchanged_remote_is_reported_unchanged(
    remote: Remote, tmp_path: Path
) -> None:
    checkout = tmp_path / "course"
    first = refresh(remote.source, checkout)
    remote.commit({"lectures/week2.md": "Files.\n"})
    remote.push()

    second = refresh(remote.source, checkout)
    third = refresh(remote.source, checkout)

    assert second == GitRefresh(checkout, remote.head(), True, None)
    assert second.commit != first.commit
    assert (checkout / "lectures" / "week2.md").read_text() == "Files.\n"
    assert third == GitRefresh(checkout, remote.head(), False, None)


def test_a_relative_local_path_is_taken_from_the_callers_folder(
    remote: Remote, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Relative to the checkout, git would look for `remote.git` inside the checkout itself.
    monkeypatch.chdir(tmp_path)
    source = GitSource("remote.git")
    refresh(source, tmp_path / "course")
    remote.commit({"notes.md": "More.\n"})
    remote.push()

    result = refresh(source, tmp_path / "course")

    assert result == GitRefresh(tmp_path / "course", remote.head(), True, None)


def test_a_force_push_is_followed_and_stray_files_are_removed(remote: Remote, tmp_path: Path) -> None:
    checkout = tmp_path / "course"
    remote.commit({"old-syllabus.md": "Dropped later.\n"})
    remote.push()
    refresh(remote.source, checkout)
    git("reset", "-q", "--hard", "HEAD~1", cwd=remote.work)
    remote.commit({"syllabus.md": "The rewritten one.\n"})
    remote.push(force=True)
    (checkout / "stray.txt").write_text("dropped in by hand")
    (checkout / "scratch" / "nested").mkdir(parents=True)
    git("init", "-q", cwd=checkout / "scratch" / "nested")

    result = refresh(remote.source, checkout)

    assert result == GitRefresh(checkout, remote.head(), True, None)
    assert sorted(p.relative_to(checkout).as_posix() for p in checkout.rglob("*") if ".git" not in p.parts) == [
        "README.md",
        "lectures",
        "lectures/week1.md",
        "syllabus.md",
    ]


def test_an_unreachable_remote_keeps_the_last_good_copy(remote: Remote, tmp_path: Path) -> None:
    checkout = tmp_path / "course"
    good = refresh(remote.source, checkout)
    remote.commit({"lectures/week2.md": "Never fetched.\n"})
    remote.push()
    shutil.rmtree(remote.bare)

    result = refresh(remote.source, checkout)

    assert result.commit == good.commit
    assert not result.changed
    assert result.problem is not None
    assert result.problem.startswith(f"cannot fetch {remote.bare}: ")
    assert f"using the copy from {good.commit[:7]} (" in result.problem
    assert (checkout / "lectures" / "week1.md").read_text() == "Tracebacks.\n"
    assert not (checkout / "lectures" / "week2.md").exists()


def test_a_failed_first_clone_leaves_nothing_behind(tmp_path: Path) -> None:
    checkout = tmp_path / "mirrors" / "course"

    result = refresh(GitSource(str(tmp_path / "no-such-repo")), checkout)

    assert result.commit is None and not result.changed
    assert result.problem == (
        f"cannot clone {tmp_path / 'no-such-repo'}: "
        f"'{tmp_path / 'no-such-repo'}' does not appear to be a git repository"
    )
    assert list(checkout.parent.iterdir()) == []


def test_a_named_branch_is_followed_and_the_default_one_ignored(remote: Remote, tmp_path: Path) -> None:
    checkout = tmp_path / "course"
    git("checkout", "-q", "-b", "spring", cwd=remote.work)
    remote.commit({"spring-only.md": "Spring term.\n"})
    remote.push("spring")
    source = GitSource(str(remote.bare), branch="spring")

    first = refresh(source, checkout)
    git("checkout", "-q", "main", cwd=remote.work)
    remote.commit({"main-only.md": "Not for spring.\n"})
    remote.push()
    second = refresh(source, checkout)

    assert first == GitRefresh(checkout, remote.head("spring"), True, None)
    assert second == GitRefresh(checkout, remote.head("spring"), False, None)
    assert (checkout / "spring-only.md").exists()
    assert not (checkout / "main-only.md").exists()


def test_a_missing_branch_is_a_problem(remote: Remote, tmp_path: Path) -> None:
    result = refresh(GitSource(str(remote.bare), branch="autumn"), tmp_path / "course")

    assert result.problem == f"cannot clone {remote.bare}: couldn't find remote ref refs/heads/autumn"


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("https://user:s3cret@git.example.edu/course.git", "https://***@git.example.edu/course.git"),
        ("https://ghp_token@github.com/org/course.git", "https://***@github.com/org/course.git"),
        ("https://user:p@ss@host/x.git", "https://***@host/x.git"),
        ("ssh://git:s3cret@host/course.git", "ssh://***@host/course.git"),
        ("https://git.example.edu/course.git", "https://git.example.edu/course.git"),
        ("ssh://git@git.example.edu/course.git", "ssh://git@git.example.edu/course.git"),
        ("git@github.com:org/course.git", "git@github.com:org/course.git"),
        ("/srv/courses/intro.git", "/srv/courses/intro.git"),
        ("file:///srv/courses/intro.git", "file:///srv/courses/intro.git"),
    ],
)
def test_redact_hides_credentials_only(url: str, shown: str) -> None:
    assert redact(url) == shown


def test_a_problem_never_shows_the_password(tmp_path: Path) -> None:
    port = closed_port()

    result = refresh(GitSource(f"https://user:s3cret@127.0.0.1:{port}/repo.git"), tmp_path / "course", timeout=10)

    assert result.problem is not None
    assert result.problem.startswith(f"cannot clone https://***@127.0.0.1:{port}/repo.git: ")
    assert "s3cret" not in result.problem
    assert "user" not in result.problem


def test_a_silent_server_times_out_quickly_and_keeps_the_last_copy(
    remote: Remote, silent_server: int, tmp_path: Path
) -> None:
    checkout = tmp_path / "course"
    good = refresh(remote.source, checkout)
    hanging = GitSource(f"http://127.0.0.1:{silent_server}/repo.git")

    started = time.monotonic()
    kept = refresh(hanging, checkout, timeout=1)
    fresh = refresh(hanging, tmp_path / "other", timeout=1)
    elapsed = time.monotonic() - started

    assert elapsed < 6
    assert kept.commit == good.commit
    assert kept.problem is not None and "timed out after 1 s" in kept.problem
    assert "using the copy from" in kept.problem
    assert fresh.commit is None and fresh.problem is not None and "timed out after 1 s" in fresh.problem
    assert sorted(p.name for p in tmp_path.iterdir()) == ["course", "remote.git", "work"]


def test_missing_git_is_a_problem_not_a_crash(
    remote: Remote, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    checkout = tmp_path / "course"
    refresh(remote.source, checkout)
    monkeypatch.setenv("PATH", str(tmp_path / "empty-bin"))

    result = refresh(remote.source, checkout)

    assert result.problem is not None and "git is not installed" in result.problem
    assert (checkout / "README.md").exists()


def test_a_folder_that_is_not_a_checkout_is_left_alone(remote: Remote, tmp_path: Path) -> None:
    # Inside another work tree, git would otherwise reset and clean that repository instead.
    checkout = remote.work / "notes"
    checkout.mkdir()
    (checkout / "mine.md").write_text("Keep me.\n")

    result = refresh(remote.source, checkout)

    assert result.commit is None
    assert result.problem == (
        f"{checkout} exists but is not a Git checkout: move it away so {remote.bare} can be cloned there"
    )
    assert (checkout / "mine.md").read_text() == "Keep me.\n"
    assert (remote.work / "README.md").exists()
