"""Keeping a local copy of a course's Git repository up to date before each ingest.

The checkout is a read-only mirror: every refresh makes it exactly the remote branch's
tree, and when the remote cannot be reached the last good copy stays as it was.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import subprocess
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path


@dataclass(frozen=True)
class GitSource:
    """Where a course's materials live: any URL or path `git fetch` accepts."""

    url: str
    branch: str | None = None  # None: the remote's default branch


@dataclass(frozen=True)
class GitRefresh:
    """What a refresh left at `path`; `problem` is None when it reached the remote."""

    path: Path
    commit: str | None  # None when no usable copy is known (never cloned, or git missing)
    changed: bool
    problem: str | None


# A git hook (say, a post-receive hook that runs the ingest) sets these for its own
# repository; inherited, they would point our commands at that repository instead.
_FOREIGN_REPO_VARS = (
    "GIT_DIR",
    "GIT_WORK_TREE",
    "GIT_IMPLICIT_WORK_TREE",
    "GIT_INDEX_FILE",
    "GIT_OBJECT_DIRECTORY",
    "GIT_ALTERNATE_OBJECT_DIRECTORIES",
    "GIT_COMMON_DIR",
    "GIT_SHALLOW_FILE",
    "GIT_GRAFT_FILE",
    "GIT_PREFIX",
    "GIT_NO_REPLACE_OBJECTS",
    "GIT_REPLACE_REF_BASE",
    "GIT_INTERNAL_SUPER_PREFIX",
)

# Explicit, so a plain folder inside some other work tree is never mistaken for it.
_IN_CHECKOUT = ("--git-dir=.git", "--work-tree=.")

# Lines git adds after the real reason of a failed fetch.
_BOILERPLATE = (
    "Could not read from remote repository.",
    "Please make sure you have the correct access rights",
    "and the repository exists.",
)

_USERINFO = re.compile(r"(?P<scheme>[a-z][a-z0-9+.-]*)://(?P<userinfo>[^/\s]*)@", re.IGNORECASE)

_KILL_GRACE = 1.0  # seconds git gets after SIGTERM to remove its lock files


@dataclass(frozen=True)
class _Deadline:
    at: float  # on time.monotonic()'s clock
    seconds: float  # the whole allowance, for the message


class _GitError(Exception):
    """One git command failed; the message is the reason, already redacted."""


def refresh(source: GitSource, checkout: Path, *, timeout: float = 120.0) -> GitRefresh:
    """Bring `checkout` to the remote branch's tree, or explain why the last copy is used.

    `timeout` bounds the whole refresh; running out of it is a `problem`, not an exception.
    """
    deadline = _Deadline(time.monotonic() + timeout, timeout)
    url = _fetchable(source.url)
    ref = f"refs/heads/{source.branch}" if source.branch else "HEAD"
    if (checkout / ".git").is_dir():
        return _update(checkout, url, ref, deadline)
    if checkout.exists() and (not checkout.is_dir() or any(checkout.iterdir())):
        return GitRefresh(
            checkout,
            None,
            False,
            f"{checkout} exists but is not a Git checkout: move it away so {redact(url)} can be cloned there",
        )
    return _clone(checkout, url, ref, deadline)


def redact(url: str) -> str:
    """Hide the credentials in every URL of `url`, which may be a whole message.

    A lone user name is hidden too in http(s) URLs, where it is often a token;
    `ssh://git@host` keeps its harmless user name.
    """

    def hide(match: re.Match[str]) -> str:
        scheme, userinfo = match["scheme"], match["userinfo"]
        if ":" in userinfo or scheme.lower() in {"http", "https", "ftp", "ftps"}:
            userinfo = "***"
        return f"{scheme}://{userinfo}@"

    return _USERINFO.sub(hide, url)


def _clone(checkout: Path, url: str, ref: str, deadline: _Deadline) -> GitRefresh:
    try:
        checkout.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{checkout.name}.", suffix=".clone", dir=checkout.parent))
    except OSError as exc:
        return GitRefresh(checkout, None, False, f"cannot clone {redact(url)}: {exc}")
    # Leftovers of a clone whose process was killed before it could clean up.
    for stale in checkout.parent.glob(f".{checkout.name}.*.clone"):
        if stale != staging:
            shutil.rmtree(stale, ignore_errors=True)
    try:
        _git(staging, deadline, "init", "-q")
        _fetch(staging, url, ref, deadline)
        commit = _check_out(staging, deadline)
        # rename(2) also replaces an empty folder, which a caller may have made.
        os.replace(staging, checkout)
    except (_GitError, OSError) as exc:
        shutil.rmtree(staging, ignore_errors=True)
        return GitRefresh(checkout, None, False, f"cannot clone {redact(url)}: {exc}")
    return GitRefresh(checkout, commit, True, None)


def _update(checkout: Path, url: str, ref: str, deadline: _Deadline) -> GitRefresh:
    try:
        old, committed = _git(checkout, deadline, *_IN_CHECKOUT, "log", "-1", "--format=%H %ct").split()
        kept = f"using the copy from {old[:7]} ({datetime.fromtimestamp(int(committed), UTC):%Y-%m-%d %H:%M} UTC)"
    except _GitError:
        old, kept = None, f"keeping what is at {checkout}"
    try:
        _fetch(checkout, url, ref, deadline)
    except _GitError as exc:
        return GitRefresh(checkout, old, False, f"cannot fetch {redact(url)}: {exc}; {kept}")
    try:
        commit = _check_out(checkout, deadline)
    except _GitError as exc:
        # The tree may be half-way between two commits, so no commit is vouched for.
        return GitRefresh(checkout, None, False, f"cannot check out what was fetched from {redact(url)}: {exc}")
    return GitRefresh(checkout, commit, commit != old, None)


def _fetch(folder: Path, url: str, ref: str, deadline: _Deadline) -> None:
    # Only the newest commit: course repositories often carry years of rewritten PDFs.
    _git(folder, deadline, *_IN_CHECKOUT, "fetch", "-q", "--depth=1", "--no-tags", "--", url, ref)


def _check_out(folder: Path, deadline: _Deadline) -> str:
    # Nobody edits the mirror, so a hard reset loses nothing; it fast-forwards and
    # follows a force-push alike. `-ff` also drops untracked nested repositories.
    _git(folder, deadline, *_IN_CHECKOUT, "reset", "-q", "--hard", "FETCH_HEAD")
    _git(folder, deadline, *_IN_CHECKOUT, "clean", "-q", "-ffdx")
    return _git(folder, deadline, *_IN_CHECKOUT, "rev-parse", "HEAD").strip()


def _git(folder: Path, deadline: _Deadline, *args: str) -> str:
    """Run git in `folder` without ever waiting for a person, and return its output."""
    remaining = deadline.at - time.monotonic()
    if remaining <= 0:
        raise _GitError(f"timed out after {deadline.seconds:g} s")
    try:
        process = subprocess.Popen(
            ["git", *args],
            cwd=folder,
            env=_environment(),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            encoding="utf-8",
            errors="replace",
            # Its own session: no terminal to prompt on, and the helpers git starts
            # (git-remote-https, ssh) can be stopped together with it.
            start_new_session=True,
        )
    except FileNotFoundError:
        raise _GitError("git is not installed (no `git` on PATH)") from None
    try:
        out, err = process.communicate(timeout=remaining)
    except subprocess.TimeoutExpired:
        _stop(process)
        raise _GitError(f"timed out after {deadline.seconds:g} s") from None
    if process.returncode != 0:
        raise _GitError(_reason(err, process.returncode))
    return out


def _stop(process: subprocess.Popen[str]) -> None:
    # SIGTERM first: git removes its lock files on it, where a SIGKILL would leave
    # an index.lock that blocks every later refresh.
    _signal_group(process, signal.SIGTERM)
    try:
        process.communicate(timeout=_KILL_GRACE)
    except subprocess.TimeoutExpired:
        _signal_group(process, signal.SIGKILL)
        process.communicate()


def _signal_group(process: subprocess.Popen[str], signum: signal.Signals) -> None:
    # The group may have finished on its own between the timeout and this call.
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signum)


def _environment() -> dict[str, str]:
    env = {name: value for name, value in os.environ.items() if name not in _FOREIGN_REPO_VARS}
    env.update(
        GIT_TERMINAL_PROMPT="0",
        # Empty, not unset: unset, git would fall back to core.askPass and SSH_ASKPASS.
        GIT_ASKPASS="",
        GCM_INTERACTIVE="never",
        # Extends a deploy's own GIT_SSH_COMMAND (a core.sshCommand setting is overridden).
        GIT_SSH_COMMAND=f"{os.environ.get('GIT_SSH_COMMAND', 'ssh')} -o BatchMode=yes",
        # The boilerplate filter and the problem messages are English.
        LC_ALL="C",
    )
    return env


def _reason(stderr: str, returncode: int) -> str:
    lines = [
        line.strip()
        for line in stderr.splitlines()
        if line.strip() and not line.startswith("hint:") and not any(text in line for text in _BOILERPLATE)
    ]
    if not lines:
        return f"git exited with status {returncode}"
    return redact(lines[-1].removeprefix("fatal: ").removeprefix("error: "))


def _fetchable(url: str) -> str:
    """Make a relative local path absolute: git would resolve it against the checkout."""
    # git's own rule: a colon before any slash means a URL or `host:path`, not a path.
    if re.match(r"[^/]*:", url):
        return url
    return os.path.abspath(url)
