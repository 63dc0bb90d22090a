"""A course's exclusions: gitignore-style globs from its config and each folder's `.mentorignore`."""

from __future__ import annotations

from pathlib import Path

import pytest

from ingest.errors import ExcludeRulesError
from ingest.exclusion import Exclusions


def test_the_readme_examples_and_a_mentorignore(tmp_path: Path) -> None:
    (tmp_path / ".mentorignore").write_text("# TAs only\n\ndrafts/\n/notes.md\n!week1/keep-solution.md\n")
    rules = Exclusions((tmp_path,), ["solutions/**", "*-solution.*", "*.key.*"])
    left_out = ["solutions/lab1.py", "solutions/deep/a.md", "week1/lab1-solution.ipynb", "exam.key.pdf", "drafts/x.md", "a/drafts/y.md", "notes.md"]
    kept = ["week1/lab1.ipynb", "solutions.md", "exam.pdf", "week1/notes.md", "drafts.md", "week1/keep-solution.md"]
    assert [name for name in left_out if not rules.excludes(name)] == []
    assert [name for name in kept if rules.excludes(name)] == ["week1/keep-solution.md"], "the course's `exclude` has the last word"


def test_several_folders_each_have_their_own_mentorignore(tmp_path: Path) -> None:
    lectures, labs = tmp_path / "lectures", tmp_path / "labs"
    lectures.mkdir()
    labs.mkdir()
    (labs / ".mentorignore").write_text("answers/\n")
    rules = Exclusions((lectures, labs), ["*.key.*"])
    assert rules.excludes("labs/answers/1.md") and not rules.excludes("lectures/answers/1.md")
    assert rules.excludes("lectures/quiz.key.md") and rules.excludes("elsewhere/x.md")


@pytest.mark.parametrize(("pattern", "reason"), [("lab[12.py", r"'\[' in 'lab\[12\.py' is never closed"), ("!", "names no file"), ("a//b", "doubled"), ("x\\", "lone backslash"), ("[z-a]", "not a valid glob")])
def test_a_bad_pattern_is_a_clear_error(tmp_path: Path, pattern: str, reason: str) -> None:
    with pytest.raises(ExcludeRulesError, match=f"the course's `exclude`: .*{reason}"):
        Exclusions((tmp_path,), [pattern])
    (tmp_path / ".mentorignore").write_text(f"ok.md\n{pattern}\n")
    with pytest.raises(ExcludeRulesError, match=rf"\.mentorignore, line 2: .*{reason}"):
        Exclusions((tmp_path,))


def test_an_unreadable_mentorignore_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / ".mentorignore").mkdir()
    with pytest.raises(ExcludeRulesError, match=r"Cannot read .*\.mentorignore .*remove it"):
        Exclusions((tmp_path,))
    (tmp_path / ".mentorignore").rmdir()
    (tmp_path / ".mentorignore").write_bytes(b"caf\xe9.md\n")
    with pytest.raises(ExcludeRulesError, match=r"Cannot read .*\.mentorignore"):
        Exclusions((tmp_path,))
