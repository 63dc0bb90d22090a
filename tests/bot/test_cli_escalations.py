"""`mentor escalations` and `mentor status`: the questions waiting in the TA queues, with their age."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from bot.cli import app
from bot.store.database import Database
from bot.store.escalations import EscalationStore, NewEscalation
from models import ReplyPlace


def test_open_escalations_are_listed_oldest_first_with_their_age(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    for name in [n for n in os.environ if n.startswith("MENTOR_")]:
        monkeypatch.delenv(name)
    env = {"MENTOR_DATA_DIR": str(tmp_path / "state")}
    database = Database.open(f"sqlite:///{tmp_path / 'state' / 'state.sqlite'}")
    store = EscalationStore(database)
    place = ReplyPlace(platform="discord", channel="1")
    old = store.open(NewEscalation("default", "When is the midterm?", "not covered", place, "Student 0A1B"), now=time.time() - 3 * 3600)
    store.open(NewEscalation("default", "Is there a Java track?", "not covered", place, "Student 77C2"), now=time.time() - 120)
    done = store.open(NewEscalation("default", "Answered one", "not covered", place, "Student 0A1B"))
    store.close(done.id, "answered", "Grace", "Yes.")
    database.close()

    listed = CliRunner().invoke(app, ["escalations"], env=env, catch_exceptions=False)
    assert listed.exit_code == 0, listed.output
    lines = listed.output.strip().splitlines()
    assert lines[0].startswith(f"#{old.id} default waiting 3 h 0 min (discord, Student 0A1B): When is the midterm?")
    assert "waiting 2 min" in lines[1] and len(lines) == 2
    as_json = json.loads(CliRunner().invoke(app, ["escalations", "--json"], env=env, catch_exceptions=False).output)
    assert [e["question"] for e in as_json] == ["When is the midterm?", "Is there a Java track?"]
    assert as_json[0]["waiting_s"] >= 3 * 3600 and as_json[0]["in_queue"] is False

    status = CliRunner().invoke(app, ["status"], env=env, catch_exceptions=False)
    assert "2 waiting for a TA, the oldest for 3 h 0 min" in status.output, status.output
    [course] = json.loads(CliRunner().invoke(app, ["status", "--json"], env=env, catch_exceptions=False).output)["courses"]
    assert course["escalations"]["open"] == 2 and course["escalations"]["oldest_s"] >= 3 * 3600
