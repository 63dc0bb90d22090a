"""`mentor verified` and `mentor escalations --answered`: list, show, edit, delete; bad ids and empty text refused."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from typer.testing import CliRunner

from bot.cli import app
from bot.store.database import Database
from bot.store.escalations import EscalationStore, NewEscalation
from bot.store.question_log import QuestionLog
from bot.store.verified import VerifiedStore
from models import Answer, Question, ReplyPlace


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    monkeypatch.chdir(tmp_path)
    for name in [n for n in os.environ if n.startswith("MENTOR_")]:
        monkeypatch.delenv(name)
    return {"MENTOR_DATA_DIR": str(tmp_path / "state")}


def mentor(env: dict[str, str], *args: str) -> object:
    return CliRunner().invoke(app, list(args), env=env, catch_exceptions=False)


def test_verified_answers_are_listed_shown_edited_and_deleted(env: dict[str, str], tmp_path: Path) -> None:
    database = Database.open(f"sqlite:///{tmp_path / 'state' / 'state.sqlite'}")
    store = VerifiedStore(database)
    older = store.add("default", "When is the midterm?", "Week 8, in class.", "Grace Hopper", escalation_id=3, now=1_764_547_200)
    newer = store.add("default", "Is there a lab on Friday?", "No lab this Friday.", None, now=1_764_633_600)
    database.close()

    listed = mentor(env, "verified", "list")
    assert listed.exit_code == 0, listed.output
    assert listed.output.splitlines() == [
        f"#{newer.id} default (TA answer, 2025-12-02): Is there a lab on Friday?",
        f"#{older.id} default (TA answer, 2025-12-01, Grace Hopper): When is the midterm?",
    ]
    as_json = json.loads(mentor(env, "verified", "list", "--json", "--course", "default").output)
    assert [(v["id"], v["label"], v["escalation_id"]) for v in as_json] == [(newer.id, "TA answer, 2025-12-02", None), (older.id, "TA answer, 2025-12-01", 3)]
    shown = mentor(env, "verified", "show", str(older.id)).output
    assert "Week 8, in class." in shown and "answered by Grace Hopper" in shown and "escalation #3" in shown

    assert mentor(env, "verified", "edit", str(older.id), "--text", "Week 9: it moved.").exit_code == 0
    new_text = tmp_path / "answer.txt"
    new_text.write_text("No lab on Fridays, ever.\n", encoding="utf-8")
    assert mentor(env, "verified", "edit", str(newer.id), "--file", str(new_text)).exit_code == 0
    answers = {v["id"]: v["answer"] for v in json.loads(mentor(env, "verified", "list", "--json").output)}
    assert answers == {older.id: "Week 9: it moved.", newer.id: "No lab on Fridays, ever."}

    deleted = mentor(env, "verified", "delete", str(newer.id))
    assert deleted.exit_code == 0 and "deleted" in deleted.output
    assert [v["id"] for v in json.loads(mentor(env, "verified", "list", "--json").output)] == [older.id]


@pytest.mark.parametrize(
    ("args", "problem"),
    [
        (["verified", "edit", "999", "--text", "x"], "There is no verified answer 999"),
        (["verified", "delete", "999"], "There is no verified answer 999"),
        (["verified", "show", "999"], "There is no verified answer 999"),
        (["verified", "edit", "1", "--text", "   "], "The new text is empty"),
        (["verified", "edit", "1"], "either --text or --file"),
    ],
)
def test_bad_requests_fail_with_a_clear_error(env: dict[str, str], tmp_path: Path, args: list[str], problem: str) -> None:
    database = Database.open(f"sqlite:///{tmp_path / 'state' / 'state.sqlite'}")
    VerifiedStore(database).add("default", "When is the midterm?", "Week 8.", None)
    database.close()
    result = CliRunner().invoke(app, args, env=env)
    assert result.exit_code == 2, result.output
    assert problem in " ".join(result.output.split())


def test_answered_escalations_are_listed_with_the_time_to_a_human_answer(env: dict[str, str], tmp_path: Path) -> None:
    database = Database.open(f"sqlite:///{tmp_path / 'state' / 'state.sqlite'}")
    log, escalations = QuestionLog(database), EscalationStore(database)
    asked = log.record(Question(text="When is the midterm?", platform="discord"), "default", Answer(text="-", grounded=False, kind="not_covered"))
    opened = escalations.open(NewEscalation("default", "When is the midterm?", "not covered", ReplyPlace(platform="discord", channel="1"), "Student 0A1B2C", question_id=asked))
    escalations.close(opened.id, "answered", "Grace Hopper", "Week 8.")
    log.record_human_answer(asked, log.get(asked).asked_at.timestamp() + 12 * 60 + 5)
    database.close()

    listed = mentor(env, "escalations", "--answered")
    assert listed.output.strip() == f"#{opened.id} default answered by Grace Hopper, reached the student in 12 min: When is the midterm?"
    [as_json] = json.loads(mentor(env, "escalations", "--answered", "--json").output)
    assert as_json["human_answer_s"] == 725 and as_json["status"] == "answered"
    assert mentor(env, "escalations").output.strip() == "no open escalations"
