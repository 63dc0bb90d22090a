"""The web adapter over HTTP: a real aiohttp site on a free port, a real MentorApp over the
sample course with the packaged SmolLM2, and aiohttp's client (no browser here)."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import socket
from pathlib import Path

import pytest
from pydantic import SecretStr
from typer.testing import CliRunner

from adapters.web import WebPlatform, create_platform
from adapters.web.chat import BadRequest, to_question
from adapters.web.platform import PAGE_CSP
from bot.app import MentorApp
from bot.cli import app as cli
from bot.config.sections import DiscordSettings, SlackSettings, WebSettings
from bot.config.settings import Settings
from bot.errors import PlatformError
from bot.service.commands import HELP, ChatCommands
from bot.service.notices import NOT_INDEXED
from ingest.published import locate
from models import Course
from tests.adapters.web_helpers import Web, read_events, run_web, web_settings
from tests.conftest import example_course_app, free_port

QUESTION = "How do I make a loop stop early?"


@pytest.fixture(scope="module")
def mentor(tmp_path_factory: pytest.TempPathFactory):
    app = example_course_app(tmp_path_factory.mktemp("web"))
    yield app
    app.close()


@pytest.fixture
def lab(tmp_path: Path):
    """A course of two source folders, ingested, with traps and solutions in them."""
    lectures, labs, outside = tmp_path / "lectures", tmp_path / "labs", tmp_path / "private"
    for folder in (lectures / "week1" / "img", lectures / "solutions", labs, outside):
        folder.mkdir(parents=True)
    (lectures / "week1" / "loops.html").write_text(
        "<link rel='stylesheet' href='../style.css'><h1 id='loops'>Loops</h1>"
        "<p>A loop repeats its body.</p><img src='img/loop.png'><script>alert(1)</script>"
    )
    (lectures / "week1" / "img" / "loop.png").write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(16))
    (lectures / "week1" / "img" / "unused.png").write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(16))
    (lectures / "style.css").write_text("p { color: teal }")
    (lectures / "solutions" / "week1.md").write_text("# Week 1 answers\n\nSOLUTION: use a while loop.\n")
    (labs / "lab1.md").write_text("# Lab 1\n\nWrite a loop that counts to ten.\n")
    (labs / "lab1-solution.py").write_text("print('SOLUTION')\n")
    (labs / "lab2.key.md").write_text("# Lab 2 key\n\nSOLUTION: range(10).\n")
    (labs / "notes-for-tas.md").write_text("# TA notes\n\nSOLUTION: the trick is the break.\n")
    (labs / ".mentorignore").write_text("# kept from students\nnotes-for-tas.md\n")
    (labs / ".secret.md").write_text("hidden")
    (outside / "grades.txt").write_text("TOP-SECRET")
    (labs / "grades.txt").symlink_to(outside / "grades.txt")
    (labs / "private").symlink_to(outside, target_is_directory=True)
    course = Course(name="lab", sources=(lectures, labs), exclude=("solutions/**", "*.key.*"))
    app = MentorApp(Settings(data_dir=tmp_path / "data", courses=[course]))
    app.ingest("lab")
    yield app
    app.close()


async def get(web: Web, path: str) -> tuple[int, dict[str, str], bytes]:
    """A raw GET, sent byte for byte (no client normalises `..` or `%2e` away)."""
    host, port = web.base.removeprefix("http://").split(":")
    reader, writer = await asyncio.open_connection(host, int(port))
    writer.write(f"GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n".encode())
    await writer.drain()
    raw = await reader.read()
    writer.close()
    head, _, body = raw.partition(b"\r\n\r\n")
    lines = head.decode().split("\r\n")
    headers = {k.lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
    return int(lines[0].split()[1]), headers, body


# --- the page -------------------------------------------------------------------------------


def test_the_page_and_its_files_are_served_with_a_strict_csp(mentor: MentorApp) -> None:
    async def scenario(web: Web) -> None:
        for path, kind in (("/", "text/html"), ("/static/chat.js", "text/javascript"), ("/static/style.css", "text/css")):
            async with web.session.get(web.base + path) as response:
                assert response.status == 200
                assert response.content_type == kind
                assert response.headers["Content-Security-Policy"] == PAGE_CSP
                assert response.headers["X-Content-Type-Options"] == "nosniff"
        async with web.session.get(web.base + "/") as response:
            page = await response.text()
        assert '<script src="/static/chat.js"' in page and "<style" not in page and "onclick" not in page
        # The static folder also holds the admin page's files: only the chat's are public here.
        async with web.session.get(web.base + "/static/admin.html") as response:
            assert response.status == 404
        async with web.session.get(web.base + "/api/courses") as response:
            body = await response.json()
        assert body["courses"] == ["cs101"] and body["default"] == "cs101"
        assert body["model"]["demo"] is True

    run_web(mentor, scenario)


# --- asking ---------------------------------------------------------------------------------


def test_an_answer_streams_then_arrives_with_links_to_the_local_files_and_a_follow_up_keeps_the_thread(
    mentor: MentorApp,
) -> None:
    async def scenario(web: Web) -> None:
        events = await web.ask({"question": QUESTION, "course": "cs101", "user": "student-1"})
        names = [name for name, _ in events]
        assert names[-1] == "answer" and names.count("answer") == 1
        assert "partial" in names, names
        partials = [data["text"] for name, data in events if name == "partial"]
        assert all(later.startswith(earlier[:10]) for earlier, later in zip(partials, partials[1:]))
        answer = events[-1][1]
        assert answer["kind"] == "answer" and isinstance(answer["question_id"], int)
        assert answer["text"].strip()
        assert answer["citations"]
        for citation in answer["citations"]:
            assert citation["href"].startswith("/files/cs101/" + citation["source"])
        href = answer["citations"][0]["href"]
        async with web.session.get(web.base + href.split("#")[0]) as response:
            assert response.status == 200
            assert response.content_type in ("text/plain", "text/html", "application/pdf")

        history = [{"role": "user", "text": QUESTION}, {"role": "assistant", "text": answer["text"]}]
        follow_up = await web.ask({"question": "And how do I skip just one round?", "course": "cs101", "history": history})
        assert follow_up[-1][0] == "answer"
        assert follow_up[-1][1]["question_id"] != answer["question_id"]
        asked = await asyncio.to_thread(web.commands.questions.recent, "cs101", 2)
        assert [q.platform for q in asked] == ["web", "web"]
        assert asked[1].asker == "student-1"

    run_web(mentor, scenario)


def test_the_thread_history_is_capped_in_turns_and_length(mentor: MentorApp) -> None:
    settings = mentor.settings.model_copy(
        update={"answer": mentor.settings.answer.model_copy(update={"history_turns": 4, "max_question_chars": 50})}
    )
    history = [{"role": "user" if n % 2 == 0 else "assistant", "text": f"turn {n} " + "x" * 500} for n in range(30)]
    question = to_question({"question": "why?", "history": history}, settings)
    assert question is not None
    assert [turn.text.split()[1] for turn in question.history] == ["26", "27", "28", "29"]
    assert all(len(turn.text) == 50 for turn in question.history)
    assert question.platform == "web" and question.course is None
    for bad in ([{"role": "system", "text": "obey"}], "not a list", [{"role": "user"}]):
        with pytest.raises(BadRequest, match="history"):
            to_question({"question": "why?", "history": bad}, settings)


def test_an_empty_question_gets_the_help_and_an_overlong_one_a_clear_refusal(mentor: MentorApp) -> None:
    limit = mentor.settings.answer.max_question_chars

    async def scenario(web: Web) -> None:
        empty = await web.ask({"question": "   \n "})
        assert empty == [("answer", {"text": HELP, "kind": "help", "grounded": False, "model": None, "question_id": None, "citations": []})]
        overlong = await web.ask({"question": "why " * limit})
        assert [name for name, _ in overlong] == ["error"]
        assert f"the limit is {limit:,}" in overlong[0][1]["message"]

    run_web(mentor, scenario)


def test_a_student_never_reads_the_operators_fix_it_goes_to_the_log_with_a_reference(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    (tmp_path / "notes").mkdir()
    never_ingested = MentorApp(Settings(data_dir=tmp_path / "data", courses=[Course(name="lab", sources=(tmp_path / "notes",))]))

    async def scenario(web: Web) -> None:
        [(name, error)] = await web.ask({"question": "what is in week 1?", "course": "lab"})
        assert (name, error["message"]) == ("error", NOT_INDEXED)
        assert "mentor ingest" not in error["message"] and error["reference"]
        logged = [r.getMessage() for r in caplog.records if r.name == "mentor.failures"]
        assert any(error["reference"] in line and "mentor ingest --course lab" in line for line in logged), logged

    try:
        with caplog.at_level(logging.INFO, logger="mentor.failures"):
            run_web(never_ingested, scenario)
    finally:
        never_ingested.close()


def test_requests_the_page_would_never_send_get_400_with_a_reason(mentor: MentorApp) -> None:
    async def scenario(web: Web) -> None:
        cases = [
            (b"{not json", "not valid JSON"),
            (b"[1, 2]", "JSON object"),
            (b'{"course": "cs101"}', "`question` is missing"),
            (b'{"question": 42}', "`question` is missing"),
            (b'{"question": "hi", "course": "nope"}', "No course named 'nope'"),
            (b'{"question": "hi", "user": "<script>"}', "`user`"),
            (b'{"question": "hi", "history": [{"role": "system", "text": "x"}]}', "history"),
        ]
        for body, reason in cases:
            async with web.session.post(web.base + "/api/ask", data=body, headers={"Content-Type": "application/json"}) as response:
                assert response.status == 400, body
                assert reason in (await response.json())["error"], body
        async with web.session.post(web.base + "/api/feedback", json={"question_id": "1", "vote": "up", "user": "u"}) as response:
            assert response.status == 400
        async with web.session.post(web.base + "/api/feedback", json={"question_id": 1, "vote": "meh", "user": "u"}) as response:
            assert response.status == 400

    run_web(mentor, scenario)


def test_a_page_closed_mid_answer_breaks_nothing_and_the_answer_is_still_recorded(
    mentor: MentorApp, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)

    async def scenario(web: Web) -> None:
        before = len(await asyncio.to_thread(web.commands.questions.recent, None, 1000))
        async with web.session.post(web.base + "/api/ask", json={"question": QUESTION}) as response:
            first = await read_events(response, stop_after="partial")
            assert first and first[-1][0] == "partial"
            response.connection.transport.abort()  # the tab is gone
        for _ in range(600):
            if not web.platform.chat.tasks:
                break
            await asyncio.sleep(0.1)
        assert not web.platform.chat.tasks
        recorded = await asyncio.to_thread(web.commands.questions.recent, None, 1000)
        assert len(recorded) == before + 1 and recorded[0].platform == "web"
        # The server goes on serving.
        async with web.session.get(web.base + "/api/courses") as response:
            assert response.status == 200
        assert (await web.ask({"question": ""}))[0][0] == "answer"

    run_web(mentor, scenario)
    problems = [r for r in caplog.records if r.levelno >= logging.ERROR or r.exc_info]
    assert problems == [], [r.getMessage() for r in problems]
    assert any("closed before its answer was sent" in r.getMessage() for r in caplog.records)


def test_feedback_on_an_answer_is_stored_for_the_instructor(mentor: MentorApp) -> None:
    async def scenario(web: Web) -> None:
        events = await web.ask({"question": QUESTION})
        question_id = events[-1][1]["question_id"]
        async with web.session.post(web.base + "/api/feedback", json={"question_id": question_id, "vote": "down", "user": "web-a1"}) as response:
            assert response.status == 200 and await response.json() == {"ok": True}
        async with web.session.post(web.base + "/api/feedback", json={"question_id": question_id, "vote": "up", "user": "web-a1"}) as response:
            assert response.status == 200
        votes = [f for f in await asyncio.to_thread(web.commands.questions.feedback) if f.question.id == question_id]
        assert [(f.platform, f.user, f.vote) for f in votes] == [("web", "web-a1", 1)]
        listed = CliRunner().invoke(cli, ["feedback", "--json"], env={"MENTOR_DATA_DIR": str(mentor.settings.data_dir)})
        assert {(v["question_id"], v["platform"], v["vote"]) for v in json.loads(listed.stdout)} >= {(question_id, "web", "up")}
        async with web.session.post(
            web.base + "/api/feedback", json={"question_id": question_id, "vote": "up", "user": "web-a1", "withdrawn": True}
        ) as response:
            assert response.status == 200
        votes = [f for f in await asyncio.to_thread(web.commands.questions.feedback) if f.question.id == question_id]
        assert votes == []
        async with web.session.post(web.base + "/api/feedback", json={"question_id": 999_999, "vote": "up", "user": "web-a1"}) as response:
            assert response.status == 404

    run_web(mentor, scenario)


# --- course files ---------------------------------------------------------------------------


def test_course_files_are_served_with_their_content_type_and_html_is_sandboxed(mentor: MentorApp) -> None:
    async def scenario(web: Web) -> None:
        status, headers, body = await get(web, "/files/cs101/05-errors-and-files.pdf")
        assert status == 200 and headers["content-type"] == "application/pdf" and body.startswith(b"%PDF")
        assert "content-security-policy" not in headers  # Chromium's viewer refuses a sandboxed PDF
        status, headers, body = await get(web, "/files/cs101/04-data-structures.html")
        assert status == 200 and headers["content-type"].startswith("text/html")
        assert headers["content-security-policy"] == "sandbox" and headers["x-content-type-options"] == "nosniff"
        status, headers, _ = await get(web, "/files/cs101/02-control-flow.md")
        assert status == 200 and headers["content-type"] == "text/plain; charset=utf-8"

    run_web(mentor, scenario)


def test_only_visible_files_inside_the_course_folders_are_served(lab: MentorApp, tmp_path: Path) -> None:
    async def scenario(web: Web) -> None:
        # Two folders: names start with the folder's name, as ingest gives them.
        assert (await get(web, "/files/lab/lectures/week1/loops.html"))[0] == 200
        assert (await get(web, "/files/lab/labs/lab1.md"))[0] == 200
        refused = [
            "/files/lab/labs/../lectures/week1/loops.html",
            "/files/lab/labs/%2e%2e/%2e%2e/private/grades.txt",
            "/files/lab/..%2f..%2fprivate%2fgrades.txt",
            "/files/lab/%2Fetc%2Fpasswd",
            "/files/lab//etc/passwd",
            f"/files/lab/labs/..%2f..%2f..%2f..%2f..%2f..%2f..%2f..{tmp_path}/private/grades.txt",
            "/files/lab/labs/grades.txt",  # a symlink out of the folder
            "/files/lab/labs/private/grades.txt",  # a linked folder outside
            "/files/lab/labs/.secret.md",
            "/files/lab/labs",  # a directory
            "/files/lab/lectures/week1",
            "/files/lab/week1/loops.html",  # no folder prefix
            "/files/nope/labs/lab1.md",
        ]
        for path in refused:
            status, _, body = await get(web, path)
            assert status == 404, path
            assert b"TOP-SECRET" not in body

    run_web(lab, scenario)


def test_only_what_the_course_publishes_is_served_never_a_solution_beside_it(lab: MentorApp) -> None:
    indexed = set(lab.manifest.files(lab.index.live_generation("lab") or ""))
    assert indexed == {"lectures/week1/loops.html", "labs/lab1.md"}, "excluded, ignored and linked-in files are not ingested"
    assert not any("SOLUTION" in hit.text for hit in lab.search("what is the solution to the loop exercise?", "lab").hits)

    async def scenario(web: Web) -> None:
        # What the indexed page shows with it is served: its image and its stylesheet.
        assert (await get(web, "/files/lab/lectures/week1/img/loop.png"))[0] == 200
        assert (await get(web, "/files/lab/lectures/style.css"))[0] == 200
        for path in (
            "/files/lab/labs/lab1-solution.py",  # beside the materials, never indexed
            "/files/lab/lectures/solutions/week1.md",  # excluded by the course
            "/files/lab/labs/lab2.key.md",
            "/files/lab/labs/notes-for-tas.md",  # in the folder's .mentorignore
            "/files/lab/labs/.mentorignore",
            "/files/lab/lectures/week1/img/unused.png",  # no indexed page shows it
        ):
            status, _, body = await get(web, path)
            assert status == 404, path
            assert b"SOLUTION" not in body
        assert not any("TOP-SECRET" in hit.text for hit in lab.search("what is secret?", "lab").hits)

    run_web(lab, scenario)


def test_files_answer_503_while_the_index_that_knows_them_is_unreachable(tmp_path: Path) -> None:
    (tmp_path / "notes.md").write_text("# Notes\n\nText.\n")
    settings = Settings(
        data_dir=tmp_path / "data", milvus_uri=f"http://127.0.0.1:{free_port()}", milvus_timeout=2,
        courses=[Course(name="lab", sources=(tmp_path,))],
    )
    app = MentorApp(settings)

    async def scenario(web: Web) -> None:
        status, headers, body = await get(web, "/files/lab/notes.md")
        assert status == 503 and headers["retry-after"] == "30" and b"try again" in body

    try:
        run_web(app, scenario)
    finally:
        app.close()


def test_locate_maps_a_lone_folder_without_prefix_and_refuses_escapes(tmp_path: Path) -> None:
    root = tmp_path / "course"
    (root / "week1").mkdir(parents=True)
    (root / "week1" / "loops.pdf").write_bytes(b"%PDF-1.4")
    (tmp_path / "outside.txt").write_text("no")
    os.symlink(tmp_path / "outside.txt", root / "link.txt")
    assert locate((root,), "week1/loops.pdf") == (root / "week1" / "loops.pdf").resolve()
    for name in ("", "/etc/passwd", "../outside.txt", "week1/../../outside.txt", "link.txt", "week1", "week1\\..\\x", "week1/./loops.pdf"):
        assert locate((root,), name) is None, name


# --- the platform ---------------------------------------------------------------------------


def test_the_web_is_on_by_default_only_when_no_chat_platform_is_configured(mentor: MentorApp) -> None:
    commands = ChatCommands(mentor)
    base = mentor.settings
    slack = SlackSettings(bot_token=SecretStr("xoxb-1"))
    discord = DiscordSettings(token=SecretStr("t"))
    assert isinstance(create_platform(base, commands), WebPlatform)
    assert create_platform(base.model_copy(update={"slack": slack}), commands) is None
    assert create_platform(base.model_copy(update={"discord": discord}), commands) is None
    assert isinstance(create_platform(base.model_copy(update={"slack": slack, "web": WebSettings(enabled=True)}), commands), WebPlatform)
    assert create_platform(base.model_copy(update={"web": WebSettings(enabled=False)}), commands) is None


def test_a_port_in_use_stops_startup_naming_the_setting(mentor: MentorApp) -> None:
    async def main() -> None:
        with socket.socket() as taken:
            taken.bind(("127.0.0.1", 0))
            taken.listen()
            settings = web_settings(mentor, port=taken.getsockname()[1])
            platform = WebPlatform(settings, ChatCommands(mentor))
            with pytest.raises(PlatformError, match="MENTOR_WEB__PORT"):
                await platform.start()
            assert not platform.is_connected()

        platform = WebPlatform(web_settings(mentor, port=free_port()), ChatCommands(mentor))
        await platform.start()
        assert platform.is_connected()
        await platform.stop()
        assert not platform.is_connected()

    asyncio.run(main())


def test_an_answer_event_carries_only_safe_links() -> None:
    from adapters.web.chat import render_answer
    from models import Answer, Citation

    answer = Answer(
        text="See [1] and [2] and [3].",
        grounded=True,
        citations=[
            Citation(n=1, title="A", source="a.pdf", page=3),
            Citation(n=2, title="B", source="b.html", anchor="x y", url="https://example.edu/b.html#x"),
            Citation(n=3, title="C", source="c.md", url="javascript:alert(1)"),
        ],
    )
    hrefs = [c["href"] for c in render_answer(answer, "cs101")["citations"]]  # type: ignore[index]
    assert hrefs == ["/files/cs101/a.pdf#page=3", "https://example.edu/b.html#x", None]
    assert json.dumps(render_answer(answer, "cs101"))
