"""`mentor feedback`: the votes on answers, as the instructor reads them (the store itself: test_state_stores)."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from bot.cli import app
from bot.store.database import Database
from bot.store.question_log import QuestionLog
from models import Answer, Citation, Question


def answer(kind: str = "answer", *cited: str) -> Answer:
    citations = [Citation(n=n, title=title, source=f"{title}.md", url=f"https://example.edu/{title}.html") for n, title in enumerate(cited, 1)]
    return Answer(text="…", citations=citations, grounded=kind == "answer", kind=kind)  # type: ignore[arg-type]


def test_mentor_feedback_lists_votes_as_text_and_json(tmp_path: Path) -> None:
    data_dir = tmp_path / "state"
    log = QuestionLog(Database.open(f"sqlite:///{data_dir / 'state.sqlite'}"))
    asked = log.record(Question(text="<b>What</b> does range(5) give?", platform="web"), "default", answer("answer", "range"))
    log.set_feedback(asked, "web", "browser-1", 1)
    env = {"MENTOR_DATA_DIR": str(data_dir)}

    listed = CliRunner().invoke(app, ["feedback", "--json"], env=env, catch_exceptions=False)
    assert listed.exit_code == 0, listed.output
    assert json.loads(listed.stdout)[0] | {"at": None} == {
        "at": None,
        "vote": "up",
        "platform": "web",
        "user": "browser-1",
        "course": "default",
        "question": "<b>What</b> does range(5) give?",
        "question_id": asked,
        "kind": "answer",
        "citations": [{"label": "range", "url": "https://example.edu/range.html"}],
    }
    text = CliRunner().invoke(app, ["feedback"], env=env, catch_exceptions=False)
    assert "+1 web default: <b>What</b> does range(5) give?" in " ".join(text.stdout.split())
    unknown = CliRunner().invoke(app, ["feedback", "--course", "nope"], env=env, catch_exceptions=False)
    assert unknown.exit_code == 2 and "No course named 'nope'" in unknown.stderr
