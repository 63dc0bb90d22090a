"""The admin API's verified answers and answered escalations: listed, edited and deleted, the index
following at once; unknown ids, empty text and missing tokens refused."""

from __future__ import annotations

import asyncio
from datetime import datetime, timezone

import aiohttp
import pytest

from bot.app import MentorApp
from bot.service.commands import ChatCommands
from bot.service.verified import VerifiedAnswers
from bot.store.escalations import NewEscalation
from models import Answer, Escalation, Question, ReplyPlace
from tests.adapters.test_web_admin import TOKEN, bearer, served
from tests.conftest import example_course_app

AUTH = bearer()
QUESTION = "Who won the 1998 football world cup final?"


@pytest.fixture(scope="module")
def mentor(tmp_path_factory: pytest.TempPathFactory):
    app = example_course_app(tmp_path_factory.mktemp("admin-verified"))
    yield app
    app.close()


def keep(mentor: MentorApp, text: str) -> int:
    escalation = Escalation(
        id=0, course="cs101", question=QUESTION, reason="not covered", place=ReplyPlace(platform="web", channel="c1"),
        student="Student 0A1B2C", status="answered", answer=text, created_at=datetime.now(timezone.utc),
    )
    return VerifiedAnswers(mentor).keep(escalation, "Grace Hopper").id


def ta_texts(mentor: MentorApp) -> list[str]:
    return [hit.text for hit in mentor.search("Which team won the 1998 world cup final?").hits if hit.title.startswith("TA answer, ")]


def test_instructors_list_edit_and_delete_verified_answers_and_the_index_follows(mentor: MentorApp) -> None:
    kept = keep(mentor, "France won, 3-0.")

    async def scenario() -> dict[str, object]:
        async with served(ChatCommands(mentor), TOKEN) as base, aiohttp.ClientSession(headers=AUTH) as http:
            seen: dict[str, object] = {}
            async with http.get(f"{base}/admin/api/verified?course=cs101") as response:
                seen["listed"] = (response.status, await response.json())
            async with http.post(f"{base}/admin/api/verified/{kept}", json={"answer": "France, 3-0 against Brazil."}) as response:
                seen["edited"] = (response.status, await response.json())
            seen["after_edit"] = ta_texts(mentor)
            for name, method, path, body in [
                ("empty", "POST", f"/admin/api/verified/{kept}", {"answer": "  "}),
                ("no_text", "POST", f"/admin/api/verified/{kept}", {"text": "x"}),
                ("unknown_edit", "POST", "/admin/api/verified/99999", {"answer": "x"}),
                ("unknown_delete", "DELETE", "/admin/api/verified/99999", None),
                ("not_a_number", "DELETE", "/admin/api/verified/abc", None),
            ]:
                async with http.request(method, base + path, json=body) as response:
                    seen[name] = (response.status, await response.json())
            async with aiohttp.ClientSession() as stranger, stranger.delete(f"{base}/admin/api/verified/{kept}") as response:
                seen["no_token"] = response.status
            async with http.delete(f"{base}/admin/api/verified/{kept}", headers={"Origin": "https://elsewhere.example"}) as response:
                seen["cross_site"] = response.status
            async with http.delete(f"{base}/admin/api/verified/{kept}") as response:
                seen["deleted"] = (response.status, await response.json())
            async with http.get(f"{base}/admin?token={TOKEN}") as response:
                seen["page"] = await response.text()
            return seen

    seen = asyncio.run(scenario())
    status, listed = seen["listed"]
    assert status == 200 and [v["id"] for v in listed["verified"]] == [kept]
    assert listed["verified"][0]["label"].startswith("TA answer, ") and listed["verified"][0]["ta"] == "Grace Hopper"
    assert seen["edited"][0] == 200 and seen["edited"][1]["verified"]["answer"] == "France, 3-0 against Brazil."
    assert any("against Brazil" in text for text in seen["after_edit"]), "the index serves the edit at once"
    assert seen["empty"][0] == 400 and "empty" in seen["empty"][1]["error"]
    assert seen["no_text"][0] == 400 and '"answer"' in seen["no_text"][1]["error"]
    assert seen["unknown_edit"][0] == 404 and "no verified answer 99999" in seen["unknown_edit"][1]["error"]
    assert seen["unknown_delete"][0] == 404 and seen["not_a_number"][0] == 400
    assert seen["no_token"] == 401 and seen["cross_site"] == 403
    assert seen["deleted"][0] == 200 and seen["deleted"][1]["deleted"]["id"] == kept
    assert ta_texts(mentor) == [] and mentor.verified.get(kept) is None, "gone from the index at once"
    assert 'id="verified"' in seen["page"] and 'id="answered"' in seen["page"] and 'id="waiting"' in seen["page"]


def test_answered_escalations_show_the_time_to_a_human_answer(mentor: MentorApp) -> None:
    asked = mentor.question_log.record(Question(text=QUESTION, platform="web"), "cs101", Answer(text="-", grounded=False, kind="not_covered"))
    opened = mentor.escalations.open(
        NewEscalation(course="cs101", question=QUESTION, reason="not covered", place=ReplyPlace(platform="web", channel="c2"),
                      student="Student 0A1B2C", question_id=asked)
    )
    mentor.escalations.close(opened.id, "answered", "Grace Hopper", "France.")
    mentor.question_log.record_human_answer(asked, mentor.question_log.get(asked).asked_at.timestamp() + 95)

    async def scenario() -> tuple[list[dict], list[dict]]:
        async with served(ChatCommands(mentor), TOKEN) as base, aiohttp.ClientSession(headers=AUTH) as http:
            async with http.get(f"{base}/admin/api/escalations?answered=1&course=cs101") as response:
                answered = (await response.json())["escalations"]
            async with http.get(f"{base}/admin/api/escalations") as response:
                waiting = (await response.json())["escalations"]
            return answered, waiting

    answered, waiting = asyncio.run(scenario())
    mine = next(e for e in answered if e["id"] == opened.id)
    assert mine["human_answer_s"] == 95 and mine["answered_by"] == "Grace Hopper" and mine["status"] == "answered"
    assert opened.id not in [e["id"] for e in waiting]


def test_a_web_citation_of_a_ta_answer_links_nowhere() -> None:
    from adapters.web.files import citation_href
    from models import Citation

    assert citation_href("cs101", Citation(n=1, title="TA answer, 2026-12-01", source="ta-answer:4")) is None
    assert citation_href("cs101", Citation(n=1, title="Loops", source="loops.md")) == "/files/cs101/loops.md"
