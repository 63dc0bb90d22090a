"""Assignment policies: the mode a question is answered under, the prompt it gets, the code-dump check and
the solution check (written and quoted answers), through a real MentorApp (MiniLM, Milvus Lite) and an
OpenAI-compatible server on loopback."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from bench.fake_llm import FakeLLM
from bot.app import MentorApp
from bot.config.sections import AnswerSettings, LlmSettings
from bot.config.settings import Settings
from ingest.assignments import AssignmentRules
from ingest.calendar import term_calendar
from models import ActiveAssignment, Course, Question
from rag.assignment_guard import guarded
from tests.adapters.web_helpers import Web, run_web
from tests.conftest import FrozenClock
from tests.rag.test_solution_similarity import CORE, SOLUTION

DUE = datetime(2026, 10, 20, 15, 0, tzinfo=timezone.utc)
HOMEWORK = (
    "# Homework 3: word counts\n\nWrite a function count_words(path) that reads a text file and returns a "
    "dictionary from each word to how often it occurs. Lowercase the words and strip punctuation first.\n"
)
LECTURE = "# Dictionaries\n\nA dictionary maps keys to values. d.get(key, 0) returns 0 when the key is missing.\n"
CODE_DUMP = (
    "Here is the whole thing [1]:\n\n```python\nimport string\n\ndef count_words(path):\n    counts = {}\n"
    "    with open(path) as f:\n        for line in f:\n            for word in line.lower().split():\n"
    "                word = word.strip(string.punctuation)\n                counts[word] = counts.get(word, 0) + 1\n"
    "    return counts\n```\n\nThat returns the counts."
)
EXAM_RULES = "# Exam rules\n\nThe midterm is in room B12. Bring your student card; one page of handwritten notes is allowed.\n"
MIDTERM = datetime(2026, 11, 2, 9, 0, tzinfo=timezone.utc)
FINAL = datetime(2026, 12, 14, 9, 0, tzinfo=timezone.utc)
QUESTION = "How do I write count_words for homework 3 so it counts each word in the file?"
WORKED_EXAMPLE = (
    "# Counting words\n\nThe word counter of homework 3 strips the punctuation of each word and counts it like this:\n\n"
    f"```python\n{CORE}```\n"
)
SOLUTION_NOTEBOOK = {
    "cells": [
        {"cell_type": "markdown", "source": ["# Homework 3 solution\n", "The reference solution reads the file line by line and "
                                             "counts each lowercased word in a dictionary."]},
        {"cell_type": "code", "source": SOLUTION.splitlines(keepends=True), "outputs": [], "execution_count": None, "metadata": {}},
    ],
    "metadata": {}, "nbformat": 4, "nbformat_minor": 5,
}
LAB_DUE = DUE + timedelta(days=7)
LAB_4 = (
    f"---\ntitle: Lab 4\nassignment:\n  name: Lab 4\n  due: {LAB_DUE.isoformat()}\n  before: concepts\n---\n"
    "# Lab 4: anagram classes\n\nGroup a list of words into classes of anagrams, using a dictionary keyed by each word's sorted letters.\n"
)
LAB_4_STARTER = {
    "cells": [{"cell_type": "markdown", "source": ["# Lab 4 starter\n", "The starter notebook loads the word list from words.txt "
                                                   "and prints the first ten anagram classes."]}],
    "metadata": {"assignment": "Lab 4"}, "nbformat": 4, "nbformat_minor": 5,
}
HOMEWORK_3 = {"name": "Homework 3", "files": ["homework/hw3*"], "due": DUE.isoformat(), "before": "hints",
              "solutions": ["homework/solutions/**"]}


@pytest.fixture(scope="module")
def llm() -> Iterator[FakeLLM]:
    server = FakeLLM(answer_seconds=0.05, tokens=5).start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def course_app(tmp_path_factory: pytest.TempPathFactory, llm: FakeLLM) -> Iterator[tuple[MentorApp, FrozenClock]]:
    root = tmp_path_factory.mktemp("course")
    (root / "homework").mkdir()
    (root / "homework/hw3.md").write_text(HOMEWORK, encoding="utf-8")
    (root / "dicts.md").write_text(LECTURE, encoding="utf-8")
    (root / "exam-rules.md").write_text(EXAM_RULES, encoding="utf-8")
    (root / "worked-example.md").write_text(WORKED_EXAMPLE, encoding="utf-8")
    (root / "labs").mkdir()
    (root / "labs/lab4.md").write_text(LAB_4, encoding="utf-8")
    (root / "labs/starter.ipynb").write_text(json.dumps(LAB_4_STARTER), encoding="utf-8")
    (root / "homework/solutions").mkdir()
    (root / "homework/solutions/hw3-solution.ipynb").write_text(json.dumps(SOLUTION_NOTEBOOK), encoding="utf-8")
    course = Course.model_validate(
        {"name": "cs101", "sources": [str(root)], "max_code_lines": 4,
         "assignments": [HOMEWORK_3],
         "exams": [
             {"name": "midterm", "start": MIDTERM.isoformat(), "end": (MIDTERM + timedelta(hours=2)).isoformat(), "logistics": ["exam-rules.md"]},
             {"name": "final exam", "start": FINAL.isoformat(), "end": (FINAL + timedelta(hours=3)).isoformat(), "answers": "nothing"},
         ]}
    )
    clock = FrozenClock(DUE - timedelta(days=1))
    # The same materials answered in quote mode: the course's own sentences, checked like the model's.
    quoting = Course.model_validate(
        {"name": "cs101q", "sources": [str(root)], "max_code_lines": 4, "answer_mode": "quote", "assignments": [HOMEWORK_3]}
    )
    settings = Settings(
        data_dir=tmp_path_factory.mktemp("state"),
        courses=[course, quoting],
        llm=LlmSettings(base_url=llm.base_url, model="fake", max_tokens=128),
        answer=AnswerSettings(mode="generate"),
    )
    app = MentorApp(settings, clock=clock)
    app.ingest("cs101")
    app.ingest("cs101q")
    yield app, clock
    app.close()


def system_prompt(llm: FakeLLM) -> str:
    return next(message["content"] for message in llm.prompts[-1] if message["role"] == "system")


def test_a_homework_question_gets_hints_before_the_deadline_and_a_full_answer_after(
    course_app: tuple[MentorApp, FrozenClock], llm: FakeLLM
) -> None:
    app, clock = course_app
    llm.answer = CODE_DUMP
    clock.now = DUE - timedelta(minutes=1)
    before = app.ask(Question(text=QUESTION, course="cs101"))
    assert "graded assignment Homework 3, due 2026-10-20 15:00 UTC. Do not give a complete solution" in system_prompt(llm)
    assert before.text.startswith("This question is about Homework 3, which is due 2026-10-20 15:00 UTC.")
    assert "def count_words" not in before.text and "That returns the counts." in before.text
    assert before.citations, "the hint still carries its sources"

    clock.now = DUE
    after = app.ask(Question(text=QUESTION, course="cs101"))
    assert "assignment Homework 3" not in system_prompt(llm)
    assert "def count_words" in after.text


def test_a_question_about_other_material_is_answered_normally_before_the_deadline(
    course_app: tuple[MentorApp, FrozenClock], llm: FakeLLM
) -> None:
    app, clock = course_app
    llm.answer = CODE_DUMP
    clock.now = DUE - timedelta(days=1)
    answer = app.ask(Question(text="What does d.get(key, 0) return when a dictionary lacks the key?", course="cs101"))
    assert "assignment Homework 3" not in system_prompt(llm)
    assert "def count_words" in answer.text


def test_short_code_stays_and_the_most_specific_glob_names_the_assignment(tmp_path: Path) -> None:
    hint = ActiveAssignment(name="Lab 2", due=DUE, mode="hints", max_code_lines=4)
    short = "Try this shape [1]:\n\n```python\nfor word in words:\n    ...\n```"
    assert guarded(short, hint) == short
    assert guarded(CODE_DUMP, hint.model_copy(update={"mode": "full"})) == CODE_DUMP
    course = Course.model_validate(
        {"name": "cs101", "sources": [str(tmp_path)], "assignments": [
            {"name": "Labs", "files": ["labs/**"], "due": "2026-12-01", "before": "concepts"},
            {"name": "Lab 2", "files": ["labs/lab2/**"], "due": "2026-10-01"},
        ]}
    )
    rules = AssignmentRules(course)
    assert rules.touched("how do I start?", ["labs/lab2/task.md"]).name == "Lab 2"
    assert rules.touched("how do I start?", ["labs/lab5/task.md"]).name == "Labs"
    assert rules.touched("is lab 2 graded on style?", ["notes/style.md"]).name == "Lab 2"
    assert rules.touched("how do I start?", ["notes/style.md"]) is None
    active = rules.active("how do I start?", ["labs/lab5/task.md"], datetime(2026, 11, 1, tzinfo=timezone.utc))
    assert (active.mode, active.restricted) == ("concepts", True)


def test_during_an_exam_only_logistics_are_answered_and_the_student_is_told_why(
    course_app: tuple[MentorApp, FrozenClock], llm: FakeLLM
) -> None:
    app, clock = course_app
    llm.answer = "The midterm is in room B12 [1]."
    clock.now = MIDTERM + timedelta(minutes=30)
    asked = llm.requests
    refused = app.ask(Question(text="What does d.get(key, 0) return when a dictionary lacks the key?", course="cs101"))
    assert refused.kind == "exam" and not refused.citations
    assert refused.text.startswith("The midterm is under way until 2026-11-02 11:00 UTC, so I can only answer questions about logistics")
    assert llm.requests == asked, "the model is not asked"
    logistics = app.ask(Question(text="Which room is the midterm in, and may I bring notes?", course="cs101"))
    assert logistics.kind == "answer" and logistics.citations[0].source == "exam-rules.md"

    clock.now = FINAL + timedelta(hours=1)
    closed = app.ask(Question(text="Which room is the exam in?", course="cs101"))
    assert closed.kind == "exam" and "not answering course questions until then" in closed.text

    clock.now = FINAL + timedelta(hours=3)
    assert app.ask(Question(text="What does d.get(key, 0) return when a dictionary lacks the key?", course="cs101")).kind == "answer"


def test_code_close_to_the_solution_file_is_replaced_by_a_hint_before_the_deadline(
    course_app: tuple[MentorApp, FrozenClock], llm: FakeLLM
) -> None:
    app, clock = course_app
    llm.answer = f"Split each line, strip the punctuation and count [1]:\n\n```python\n{CORE}```\n\nThen return the counts."
    clock.now = DUE - timedelta(hours=2)
    before = app.ask(Question(text=QUESTION, course="cs101"))
    assert len(CORE.splitlines()) <= 4, "short enough for max_code_lines: only the solution check catches it"
    assert before.text.startswith("This question is about Homework 3, which is due 2026-10-20 15:00 UTC.")
    assert "close to the assignment's solution" in before.text and "counts.get" not in before.text
    assert "Then return the counts." in before.text

    clock.now = DUE
    assert "counts.get" in app.ask(Question(text=QUESTION, course="cs101")).text


def test_a_quoted_answer_is_checked_like_a_written_one(course_app: tuple[MentorApp, FrozenClock], llm: FakeLLM) -> None:
    app, clock = course_app
    question = Question(text="How does the word counter of homework 3 strip punctuation and count each word?", course="cs101q")
    asked = llm.requests
    clock.now = DUE - timedelta(hours=2)
    before = app.ask(question)
    assert before.kind == "quote" and llm.requests == asked, "no model wrote it"
    assert "worked-example.md" in [citation.source for citation in before.citations]
    assert before.text.startswith("This question is about Homework 3") and "close to the assignment's solution" in before.text
    assert "counts.get" not in before.text

    clock.now = DUE
    after = app.ask(question)
    assert after.kind == "quote" and "counts.get" in after.text


def test_a_solution_file_is_held_until_the_deadline_and_read_before_it_only_for_the_check(
    course_app: tuple[MentorApp, FrozenClock],
) -> None:
    app, clock = course_app
    solution = "homework/solutions/hw3-solution.ipynb"
    question = "How does the reference solution of homework 3 count each lowercased word in a dictionary?"
    clock.now = DUE - timedelta(seconds=1)
    assert solution not in [hit.source for hit in app.search(question, "cs101").hits]
    assert solution not in [citation.source for citation in app.ask(Question(text=question, course="cs101")).citations]
    assert app.course_file("cs101", solution) is None
    assert served(app, f"/files/cs101/{solution}") == 404
    held = next(item for item in app.calendar("cs101").upcoming if item.source == solution)
    assert (held.release.at, held.release.rule) == (DUE, "solution of 'Homework 3', held until it is due")

    clock.now = DUE
    assert solution in [hit.source for hit in app.search(question, "cs101").hits]
    assert app.course_file("cs101", solution) is not None
    assert served(app, f"/files/cs101/{solution}") == 200


def served(app: MentorApp, path: str) -> int:
    """The HTTP status `/files` answers `path` with, from the web platform on loopback."""
    statuses: list[int] = []

    async def fetch(web: Web) -> None:
        async with web.session.get(web.base + path) as response:
            statuses.append(response.status)

    run_web(app, fetch)
    return statuses[0]


def test_an_assignment_declared_in_front_matter_and_joined_from_notebook_metadata(
    course_app: tuple[MentorApp, FrozenClock], llm: FakeLLM
) -> None:
    app, clock = course_app
    llm.answer = "Sort the letters of each word [1]."
    clock.now = LAB_DUE - timedelta(days=1)
    app.ask(Question(text="How should I group the words into anagram classes?", course="cs101"))
    assert f"graded assignment Lab 4, due {LAB_DUE:%Y-%m-%d %H:%M} UTC. Explain only the ideas" in system_prompt(llm)
    app.ask(Question(text="What does the starter notebook print from words.txt?", course="cs101"))
    assert "graded assignment Lab 4" in system_prompt(llm), "the notebook joined Lab 4 in its metadata"
    status = next(s for s in app.status() if s.course.name == "cs101")
    assert [(a.name, mode) for a, mode in status.assignment_modes()] == [("Homework 3", "full"), ("Lab 4", "concepts")]
    lab = next(a for a in app.calendar("cs101").assignments if a.name == "Lab 4")
    assert (lab.due, lab.before, sorted(lab.declared)) == (LAB_DUE, "concepts", ["labs/lab4.md", "labs/starter.ipynb"])

    clock.now = LAB_DUE
    app.ask(Question(text="How should I group the words into anagram classes?", course="cs101"))
    assert "graded assignment Lab 4" not in system_prompt(llm)


def test_a_declaration_beats_the_globs_and_bad_ones_are_reported(tmp_path: Path) -> None:
    (tmp_path / "labs").mkdir()
    (tmp_path / "labs/lab2-extra.md").write_text("---\nassignment: Lab 2\n---\n# Extra\n\nText.\n", encoding="utf-8")
    (tmp_path / "labs/lab9.md").write_text("---\nassignment: Lab 9\n---\n# Lab 9\n\nText.\n", encoding="utf-8")
    (tmp_path / "labs/broken.md").write_text("---\nassignment:\n  name: Lab 3\n  due: someday\n---\n# B\n\nText.\n", encoding="utf-8")
    (tmp_path / "labs/moved.md").write_text("---\nassignment: {name: Labs, due: 2030-01-01}\n---\n# M\n\nText.\n", encoding="utf-8")
    course = Course.model_validate(
        {"name": "cs101", "sources": [str(tmp_path)], "assignments": [
            {"name": "Labs", "files": ["labs/**"], "due": "2026-12-01", "before": "concepts"},
            {"name": "Lab 2", "files": ["labs/lab2/**"], "due": "2026-10-01", "solutions": ["keys/lab2.py"]},
        ]}
    )
    calendar = term_calendar(course, DUE)
    names = {a.name: a for a in calendar.assignments}
    assert names["Lab 2"].declared == ("labs/lab2-extra.md",)
    assert names["Labs"].due == datetime(2026, 12, 1, tzinfo=timezone.utc), "mentor.toml keeps its deadline"
    assert AssignmentRules(calendar.course).of_source("labs/lab2-extra.md").name == "Lab 2", "its own word beats 'labs/**'"
    assert any(p.startswith("labs/broken.md: its `assignment:` cannot be read") for p in calendar.problems), calendar.problems
    assert any("labs/lab9.md names the assignment 'Lab 9', which neither mentor.toml nor" in p for p in calendar.problems)
    assert "assignment 'Lab 2': solutions 'keys/lab2.py' matches no file of the course: check the glob" in calendar.problems
