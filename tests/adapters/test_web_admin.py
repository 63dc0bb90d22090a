"""The instructor's page at /admin: its JSON API, reindex with live progress, access rules, and
the page itself in a real headless Chromium, over a real MentorApp (a copy of the sample
course, ingested with the real MiniLM into Milvus Lite)."""

from __future__ import annotations

import asyncio
import ipaddress
import json
import shutil
import socket
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from itertools import count
from pathlib import Path
from unittest import mock
from urllib.parse import quote

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import make_mocked_request
from pydantic import SecretStr

from adapters.web.admin import CSP, add_admin_routes
from bot.app import MentorApp
from bot.config.sections import LlmSettings, WebSettings
from bot.config.settings import Settings
from bot.service.commands import ChatCommands
from models import Course, Question
from tests.conftest import EXAMPLE_COURSE

TOKEN = "s3cret/admin+token"
MIDTERM = "When is the midterm exam, and is it open book?"
PARKING = "Where can I park my car on campus?"
XSS = "<script>window.__xss=1</script>"
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
new_file_numbers = count(1)


@pytest.fixture(scope="module")
def course_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the sample course, so a test can add a file and make a reindex do real work."""
    folder = tmp_path_factory.mktemp("admin-course") / "course"
    shutil.copytree(EXAMPLE_COURSE, folder)
    return folder


@pytest.fixture(scope="module")
def mentor(tmp_path_factory: pytest.TempPathFactory, course_dir: Path):
    settings = Settings(
        data_dir=tmp_path_factory.mktemp("admin"),
        courses=[Course(name="cs101", sources=(course_dir,))],
        llm=LlmSettings(temperature=0.0, max_tokens=24, n_ctx=2048),
    )
    app = MentorApp(settings)
    app.ingest("cs101")
    yield app
    app.close()


@pytest.fixture(scope="module")
def commands(mentor: MentorApp) -> ChatCommands:
    return ChatCommands(mentor)


def add_lesson(course_dir: Path) -> str:
    """A new Markdown page in the course: the next reindex reads it (and only it)."""
    number = next(new_file_numbers)
    name = f"90-extra-{number}.md"
    (course_dir / name).write_text(f"# Extra lesson {number}\n\nList comprehensions build lists: [x * x for x in range(10)].\n")
    return name


@asynccontextmanager
async def served(commands: ChatCommands, token: str | None = None, host: str = "127.0.0.1") -> AsyncIterator[str]:
    app = web.Application()
    add_admin_routes(app, commands, WebSettings(admin_token=SecretStr(token) if token else None))
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, host, 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        yield f"http://{host}:{port}"
    finally:
        await runner.cleanup()


def bearer(token: str = TOKEN) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def ask_not_covered(commands: ChatCommands, text: str) -> int:
    answer = await commands.ask(Question(text=text, platform="web", course="cs101"))
    assert answer.kind == "not_covered", f"the sample course does not cover {text!r}"
    assert answer.question_id is not None
    return answer.question_id


async def read_events(response: aiohttp.ClientResponse) -> list[tuple[str, dict]]:
    """Server-sent events until the run's `done` or `error`."""
    events: list[tuple[str, dict]] = []
    event, data = "message", []
    async for raw in response.content:
        line = raw.decode().rstrip("\r\n")
        if line.startswith(":"):
            continue
        if line:
            field, _, value = line.partition(": ")
            if field == "event":
                event = value
            elif field == "data":
                data.append(value)
            continue
        if data:
            events.append((event, json.loads("\n".join(data))))
            if event in ("done", "error"):
                break
        event, data = "message", []
    return events


async def reindex_events(session: aiohttp.ClientSession, base: str, events_path: str) -> list[tuple[str, dict]]:
    async with session.get(base + events_path, headers=bearer()) as response:
        assert response.status == 200
        assert response.headers["Content-Type"].startswith("text/event-stream")
        assert response.headers["Cache-Control"] == "no-store"
        return await asyncio.wait_for(read_events(response), 120)


def runs_of(mentor: MentorApp) -> list:
    return mentor.run_history.runs("cs101", limit=500)


# --- the API ---------------------------------------------------------------------------------


def test_status_lists_the_course_with_its_documents_and_chunks(commands: ChatCommands) -> None:
    async def scenario() -> tuple[dict, dict[str, str]]:
        async with served(commands, TOKEN) as base, aiohttp.ClientSession() as session:
            async with session.get(f"{base}/admin/api/status", headers=bearer()) as response:
                assert response.status == 200
                return await response.json(), dict(response.headers)

    status, headers = asyncio.run(scenario())
    assert headers["Cache-Control"] == "no-store"
    (course,) = status["courses"]
    assert course["course"] == "cs101"
    assert course["documents"] >= 5
    assert course["chunks"] > course["documents"]
    assert course["last_ingest"] is not None
    assert course["next_run"] is not None
    assert course["running"] is None and course["following"] is None
    assert status["model"]["demo"] is True


def test_gaps_count_the_same_question_together_newest_first(commands: ChatCommands) -> None:
    async def scenario() -> tuple[list[dict], list[dict]]:
        await ask_not_covered(commands, MIDTERM)
        await ask_not_covered(commands, PARKING)
        await ask_not_covered(commands, "  when is the MIDTERM exam, and is it open book?  ")
        async with served(commands, TOKEN) as base, aiohttp.ClientSession(headers=bearer()) as session:
            async with session.get(f"{base}/admin/api/gaps?course=cs101") as response:
                gaps = (await response.json())["gaps"]
            async with session.get(f"{base}/admin/api/questions?course=cs101&limit=3") as response:
                recent = (await response.json())["questions"]
        return gaps, recent

    gaps, recent = asyncio.run(scenario())
    ours = [gap for gap in gaps if gap["question"].strip().lower() in (MIDTERM.lower(), PARKING.lower())]
    assert [(gap["question"].strip().lower(), gap["count"]) for gap in ours] == [(MIDTERM.lower(), 2), (PARKING.lower(), 1)]
    assert all(gap["course"] == "cs101" for gap in ours)
    assert [question["question"].strip() for question in recent][1:] == [PARKING, MIDTERM]
    assert all(question["kind"] == "not_covered" and question["platform"] == "web" for question in recent)
    assert "asker" not in recent[0]


def test_feedback_on_an_answer_shows_up(commands: ChatCommands) -> None:
    async def scenario() -> tuple[int, list[dict]]:
        question_id = await ask_not_covered(commands, "Is there a dress code for the lab sessions?")
        assert await commands.feedback(question_id, "web", "u1", 1)
        async with served(commands, TOKEN) as base, aiohttp.ClientSession(headers=bearer()) as session:
            async with session.get(f"{base}/admin/api/feedback") as response:
                return question_id, (await response.json())["feedback"]

    question_id, feedback = asyncio.run(scenario())
    vote = next(entry for entry in feedback if entry["question_id"] == question_id)
    assert vote["vote"] == "up" and vote["platform"] == "web" and vote["user"] == "u1"
    assert vote["course"] == "cs101" and vote["question"] == "Is there a dress code for the lab sessions?"


def test_bad_course_and_limit_are_refused_clearly(commands: ChatCommands) -> None:
    async def scenario() -> list[tuple[int, dict]]:
        async with served(commands, TOKEN) as base, aiohttp.ClientSession(headers=bearer()) as session:
            found = []
            for method, path in [
                ("GET", "/admin/api/gaps?course=nope"),
                ("GET", "/admin/api/history?limit=zero"),
                ("POST", "/admin/api/reindex/nope"),
                ("GET", "/admin/api/reindex/nope/events"),
            ]:
                async with session.request(method, base + path) as response:
                    found.append((response.status, await response.json()))
            return found

    (gaps, limit, reindex, events) = asyncio.run(scenario())
    assert gaps[0] == 404 and "cs101" in gaps[1]["error"]
    assert limit[0] == 400 and "limit" in limit[1]["error"]
    assert reindex[0] == 404 and events[0] == 404


# --- reindex -----------------------------------------------------------------------------------


def test_reindex_streams_progress_then_the_record_and_lands_in_the_history(
    mentor: MentorApp, commands: ChatCommands, course_dir: Path
) -> None:
    lesson = add_lesson(course_dir)

    async def scenario() -> tuple[int, dict, list[tuple[str, dict]], list[dict]]:
        async with served(commands, TOKEN) as base, aiohttp.ClientSession() as session:
            async with session.post(f"{base}/admin/api/reindex/cs101", headers=bearer(), json={"requested_by": "Prof. Ada"}) as response:
                status, handle = response.status, await response.json()
            events = await reindex_events(session, base, handle["events"])
            async with session.get(f"{base}/admin/api/history?course=cs101&limit=5", headers=bearer()) as response:
                runs = (await response.json())["runs"]
        return status, handle, events, runs

    status, handle, events, runs = asyncio.run(scenario())
    assert status == 202
    assert handle["course"] == "cs101" and handle["requested_by"] == "Prof. Ada"
    progress = [data for event, data in events if event == "progress"]
    assert progress, "progress arrives before the outcome"
    assert all(0 <= step["done"] <= step["total"] for step in progress)
    assert progress[-1]["done"] == progress[-1]["total"] == 1
    final, outcome = events[-1]
    assert final == "done"
    record = outcome["record"]
    assert record["trigger"] == "admin page" and record["requested_by"] == "Prof. Ada" and record["outcome"] == "ok"
    assert [Path(source).name for source in record["report"]["added"]] == [lesson]
    assert "admin page by Prof. Ada" in outcome["summary"]
    assert runs[0]["id"] == record["id"] and runs[0]["trigger"] == "admin page"


def test_two_clicks_at_once_start_one_run_and_the_second_hears_who_started_it(
    mentor: MentorApp, commands: ChatCommands, course_dir: Path
) -> None:
    add_lesson(course_dir)
    before = len(runs_of(mentor))

    async def scenario() -> tuple[list[tuple[int, dict]], list[tuple[str, dict]], list[tuple[str, dict]]]:
        async with served(commands, TOKEN) as base, aiohttp.ClientSession(headers=bearer()) as session:

            async def click() -> tuple[int, dict]:
                async with session.post(f"{base}/admin/api/reindex/cs101") as response:
                    return response.status, await response.json()

            answers = sorted(await asyncio.gather(click(), click()), key=lambda answer: answer[0])
            started, busy = answers
            # Both watchers follow the same run.
            first, second = await asyncio.gather(
                reindex_events(session, base, started[1]["events"]), reindex_events(session, base, busy[1]["following"]["events"])
            )
            return answers, first, second

    (started, busy), first, second = asyncio.run(scenario())
    assert started[0] == 202
    assert busy[0] == 409
    assert "already running" in busy[1]["error"] and "instructor (admin page)" in busy[1]["error"]
    assert first[-1][0] == second[-1][0] == "done"
    assert first[-1][1]["record"]["id"] == second[-1][1]["record"]["id"]
    assert len(runs_of(mentor)) == before + 1


def test_a_run_going_on_elsewhere_is_reported_not_doubled(mentor: MentorApp, commands: ChatCommands) -> None:
    """A slash command (another thread, or another process) holds the course's reindex lock."""
    lock = mentor.reindex_locks.for_course("cs101")
    lock.acquire("slash command", "prof-grace")
    before = len(runs_of(mentor))

    async def scenario() -> tuple[int, list[tuple[str, dict]], dict]:
        async with served(commands, TOKEN) as base, aiohttp.ClientSession(headers=bearer()) as session:
            async with session.post(f"{base}/admin/api/reindex/cs101") as response:
                status, handle = response.status, await response.json()
            events = await reindex_events(session, base, handle["events"])
            async with session.get(f"{base}/admin/api/status") as response:
                course = (await response.json())["courses"][0]
            return status, events, course

    try:
        status, events, course = asyncio.run(scenario())
    finally:
        lock.release()
    assert status == 202
    assert events[-1][0] == "error"
    assert events[-1][1]["busy"] is True and "prof-grace" in events[-1][1]["message"]
    assert "prof-grace" in course["running"] and course["following"] is None
    assert len(runs_of(mentor)) == before


def test_stopping_the_server_stops_waiting_on_a_run_and_the_run_still_finishes(
    mentor: MentorApp, commands: ChatCommands, course_dir: Path
) -> None:
    lesson = add_lesson(course_dir)
    before = len(runs_of(mentor))

    async def scenario() -> tuple[int, list[str]]:
        async with served(commands, TOKEN) as base, aiohttp.ClientSession(headers=bearer()) as session:
            async with session.post(f"{base}/admin/api/reindex/cs101") as response:
                status = response.status
        # The app's cleanup cancelled and awaited its background task.
        return status, [task.get_name() for task in asyncio.all_tasks() if task.get_name().startswith("admin reindex")]

    status, left = asyncio.run(scenario())
    assert status == 202
    assert left == []
    # The worker thread finishes the run and records it; nothing is left half-done.
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        runs = runs_of(mentor)
        if len(runs) == before + 1 and runs[0].outcome != "running" and mentor.reindex_locks.running("cs101") is None:
            break
        time.sleep(0.1)
    last = runs[0]
    assert len(runs) == before + 1
    assert last.trigger == "admin page" and last.outcome == "ok"
    assert [Path(source).name for source in last.report.added] == [lesson]


# --- access ------------------------------------------------------------------------------------


def test_with_a_token_every_route_wants_it(commands: ChatCommands) -> None:
    async def scenario() -> dict[str, tuple[int, str, dict[str, str]]]:
        found = {}
        async with served(commands, TOKEN) as base, aiohttp.ClientSession() as session:
            cases = {
                "page bare": ("GET", "/admin", {}),
                "page wrong": ("GET", "/admin", bearer("not-it")),
                "page wrong query": ("GET", "/admin?token=not-it", {}),
                "page bearer": ("GET", "/admin", bearer()),
                "page query": ("GET", f"/admin?token={quote(TOKEN, safe='')}", {}),
                "asset bare": ("GET", "/admin/static/admin.js", {}),
                "asset query": ("GET", f"/admin/static/admin.js?token={quote(TOKEN, safe='')}", {}),
                "asset other": ("GET", "/admin/static/admin.py", bearer()),
                "api bare": ("GET", "/admin/api/status", {}),
                "api query": ("GET", f"/admin/api/status?token={quote(TOKEN, safe='')}", {}),
                "api bearer": ("GET", "/admin/api/gaps", bearer()),
                "reindex query": ("POST", f"/admin/api/reindex/cs101?token={quote(TOKEN, safe='')}", {}),
            }
            for name, (method, path, headers) in cases.items():
                async with session.request(method, base + path, headers=headers) as response:
                    found[name] = (response.status, await response.text(), dict(response.headers))
        return found

    found = asyncio.run(scenario())
    for name in ("page bare", "page wrong", "page wrong query", "asset bare", "api bare", "api query", "reindex query"):
        status, body, _ = found[name]
        assert status == 401, name
        assert "MENTOR_WEB__ADMIN_TOKEN" in body and TOKEN not in body and "not-it" not in body, name
    assert json.loads(found["api bare"][1])["error"]
    assert found["page bare"][2]["WWW-Authenticate"].startswith("Bearer")
    for name in ("page bearer", "page query", "asset query", "api bearer"):
        assert found[name][0] == 200, name
    assert found["asset other"][0] == 404

    _, page, headers = found["page query"]
    assert headers["Content-Security-Policy"] == CSP
    assert CSP == (
        "default-src 'self'; script-src 'self'; style-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'"
    )
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["Referrer-Policy"] == "no-referrer"
    # Assets are loaded by URL: they carry the token the page was opened with; with a bearer, nothing.
    assert f'src="/admin/static/admin.js?token={quote(TOKEN, safe="")}"' in page
    assert 'src="/admin/static/admin.js"' in found["page bearer"][1]
    assert found["asset query"][2]["Content-Type"].startswith("text/javascript")
    assert found["api bearer"][2]["Cache-Control"] == "no-store"


def test_without_a_token_only_this_machine_gets_in(commands: ChatCommands) -> None:
    async def scenario() -> tuple[int, int, str]:
        async with served(commands) as base, aiohttp.ClientSession() as session:
            async with session.get(f"{base}/admin") as response:
                local = response.status
            async with session.get(f"{base}/admin/api/status", headers={"X-Forwarded-For": "203.0.113.7"}) as response:
                return local, response.status, await response.text()

    local, proxied, body = asyncio.run(scenario())
    assert local == 200
    assert proxied == 403, "a request relayed by a proxy on this machine is not local"
    assert "MENTOR_WEB__ADMIN_TOKEN" in body


def test_without_a_token_a_remote_peer_is_refused(commands: ChatCommands) -> None:
    """The peer address as aiohttp reads it from the transport, for a peer that is not loopback."""

    async def scenario() -> list[tuple[int, str]]:
        app = web.Application()
        add_admin_routes(app, commands, WebSettings())
        found = []
        for peer in (("203.0.113.9", 40000), ("2001:db8::9", 40000, 0, 0), ("::1", 40000, 0, 0), ("::ffff:127.0.0.1", 40000, 0, 0)):
            transport = mock.Mock()
            transport.get_extra_info.side_effect = lambda name, default=None, peer=peer: peer if name == "peername" else default
            request = make_mocked_request("GET", "/admin", app=app, transport=transport)
            match = await app.router.resolve(request)
            response = await match.handler(request)
            found.append((response.status, response.text or ""))
        return found

    remote4, remote6, local6, mapped = asyncio.run(scenario())
    assert remote4[0] == remote6[0] == 403
    assert "MENTOR_WEB__ADMIN_TOKEN" in remote4[1]
    assert local6[0] == mapped[0] == 200


def non_loopback_address() -> str | None:
    candidates: set[str] = set()
    try:
        candidates.update(str(info[4][0]) for info in socket.getaddrinfo(socket.gethostname(), None, socket.AF_INET))
    except OSError:
        pass
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect(("192.0.2.1", 9))  # no packet is sent: this only picks the outgoing address
            candidates.add(probe.getsockname()[0])
        except OSError:
            pass
    return next((address for address in sorted(candidates) if not ipaddress.ip_address(address).is_loopback), None)


def test_without_a_token_a_request_over_the_network_is_refused(commands: ChatCommands) -> None:
    address = non_loopback_address()
    if address is None:
        pytest.skip("this machine has no address besides loopback to connect from")

    async def scenario() -> tuple[int, str]:
        async with served(commands, host=address) as base, aiohttp.ClientSession() as session:
            async with session.get(f"{base}/admin/api/status") as response:
                return response.status, await response.text()

    status, body = asyncio.run(scenario())
    assert status == 403 and "MENTOR_WEB__ADMIN_TOKEN" in body


def test_without_a_token_a_page_reached_by_another_name_is_refused(commands: ChatCommands) -> None:
    """DNS rebinding: a site's own name resolves to 127.0.0.1, so only the Host header tells it apart."""

    async def scenario() -> dict[str, tuple[int, str]]:
        found = {}
        async with served(commands) as base, aiohttp.ClientSession() as session:
            port = base.rsplit(":", 1)[1]
            for host in ("attacker.example", f"attacker.example:{port}", f"localhost:{port}", f"127.0.0.1:{port}", f"[::1]:{port}"):
                async with session.get(f"{base}/admin/api/questions", headers={"Host": host}) as response:
                    found[host.replace(port, "PORT")] = (response.status, await response.text())
        return found

    found = asyncio.run(scenario())
    assert {host: status for host, (status, _) in found.items()} == {
        "attacker.example": 403, "attacker.example:PORT": 403, "localhost:PORT": 200, "127.0.0.1:PORT": 200, "[::1]:PORT": 200,
    }
    assert "MENTOR_WEB__ALLOWED_HOSTS" in found["attacker.example:PORT"][1] and "question" not in found["attacker.example"][1]


def test_allowed_hosts_names_the_page_may_be_reached_by(commands: ChatCommands) -> None:
    async def scenario() -> list[int]:
        app = web.Application()
        add_admin_routes(app, commands, WebSettings(allowed_hosts=["Mentor.Lab.Example"]))
        runner = web.AppRunner(app)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        base = f"http://127.0.0.1:{runner.addresses[0][1]}"
        try:
            async with aiohttp.ClientSession() as session:
                statuses = []
                for host in ("mentor.lab.example:8765", "other.lab.example"):
                    async with session.get(f"{base}/admin/api/status", headers={"Host": host}) as response:
                        statuses.append(response.status)
                return statuses
        finally:
            await runner.cleanup()

    assert asyncio.run(scenario()) == [200, 403]


@pytest.mark.parametrize("token", [None, TOKEN], ids=["no token", "token"])
def test_a_reindex_posted_by_another_site_is_refused_and_starts_nothing(
    mentor: MentorApp, commands: ChatCommands, token: str | None
) -> None:
    """A page on any site can make a visitor's browser POST here; its `Origin` gives it away."""
    before = len(runs_of(mentor))

    async def scenario() -> tuple[list[tuple[int, str]], int, list[tuple[str, dict]]]:
        headers = bearer() if token else {}
        async with served(commands, token) as base, aiohttp.ClientSession(headers=headers) as session:
            forged = []
            for origin in ("https://attacker.example", "null", base.replace("127.0.0.1", "localhost")):
                async with session.post(f"{base}/admin/api/reindex/cs101", headers={"Origin": origin}) as response:
                    forged.append((response.status, await response.text()))
            async with session.post(f"{base}/admin/api/reindex/cs101", headers={"Origin": base}) as response:
                own, handle = response.status, await response.json()
            return forged, own, await reindex_events(session, base, handle["events"])

    forged, own, events = asyncio.run(scenario())
    assert [status for status, _ in forged] == [403, 403, 403]
    assert all("another site" in body for _, body in forged)
    assert own == 202 and events[-1][0] == "done"
    assert len(runs_of(mentor)) == before + 1, "only the page's own request started a run"


# --- the page in a browser -----------------------------------------------------------------------


def test_json_escapes_markup_in_questions(commands: ChatCommands) -> None:
    async def scenario() -> str:
        await ask_not_covered(commands, XSS)
        async with served(commands, TOKEN) as base, aiohttp.ClientSession(headers=bearer()) as session:
            async with session.get(f"{base}/admin/api/gaps") as response:
                assert response.headers["Content-Type"].startswith("application/json")
                return await response.text()

    body = asyncio.run(scenario())
    assert "<script>" not in body and "\\u003cscript\\u003e" in body
    assert XSS in [gap["question"] for gap in json.loads(body)["gaps"]]


def test_the_page_in_chromium_shows_text_reindexes_and_refuses_without_the_token(
    mentor: MentorApp, commands: ChatCommands, course_dir: Path
) -> None:
    if not CHROMIUM.exists():
        pytest.skip(f"no Chromium at {CHROMIUM} (Debian's `chromium` package)")
    playwright_api = pytest.importorskip("playwright.async_api", reason="the playwright package is not installed")
    add_lesson(course_dir)

    async def scenario() -> dict[str, object]:
        await ask_not_covered(commands, XSS)
        found: dict[str, object] = {}
        problems: list[str] = []
        async with served(commands, TOKEN) as base, playwright_api.async_playwright() as playwright:
            browser = await playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
            try:
                page = await browser.new_page()

                def on_console(message: object) -> None:
                    # The browser's own /favicon.ico probe is not this page's (the app here serves /admin only).
                    if message.type == "error" and not message.location.get("url", "").endswith("/favicon.ico"):  # type: ignore[attr-defined]
                        problems.append(f"{message.text} at {message.location}")  # type: ignore[attr-defined]

                page.on("console", on_console)
                page.on("pageerror", lambda error: problems.append(str(error)))
                await page.goto(f"{base}/admin?token={quote(TOKEN, safe='')}")
                await page.wait_for_selector("body[data-loaded=true]", timeout=60_000)
                found["gaps"] = await page.locator("#gaps tbody").inner_text()
                found["xss"] = await page.evaluate("typeof window.__xss")
                found["scripts in tables"] = await page.locator("main script").count()
                found["stored token"] = await page.evaluate("sessionStorage.getItem('mentor-admin-token')")

                # Every text the status line shows, as it changes.
                await page.evaluate(
                    """() => {
                        window.__seen = [];
                        const card = document.querySelector('.course[data-course="cs101"]');
                        new MutationObserver(() => {
                            const current = document.querySelector('.course[data-course="cs101"] .reindex-status');
                            if (current) window.__seen.push(current.textContent);
                        }).observe(document.getElementById('courses'), {subtree: true, childList: true, characterData: true});
                    }"""
                )
                await page.click('.course[data-course="cs101"] .reindex-button')
                await page.wait_for_selector('.course[data-course="cs101"][data-state="done"]', timeout=120_000)
                found["finished"] = await page.locator('.course[data-course="cs101"] .reindex-status').inner_text()
                found["seen"] = await page.evaluate("window.__seen")
                await page.wait_for_function(
                    "document.querySelector('#history tbody').innerText.includes('admin page')", timeout=30_000
                )

                stranger = await browser.new_page()
                response = await stranger.goto(f"{base}/admin")
                found["stranger status"] = response.status if response else None
                found["stranger text"] = await stranger.locator("body").inner_text()
            finally:
                await browser.close()
        found["problems"] = problems
        return found

    found = asyncio.run(scenario())
    assert XSS in str(found["gaps"]), "the question is shown as the text it was"
    assert found["xss"] == "undefined"
    assert found["scripts in tables"] == 0
    assert found["stored token"] == TOKEN
    assert str(found["finished"]).startswith("Finished: ")
    assert any("changed files read" in text for text in found["seen"]), found["seen"]  # type: ignore[union-attr]
    assert found["stranger status"] == 401
    assert "MENTOR_WEB__ADMIN_TOKEN" in str(found["stranger text"]) and TOKEN not in str(found["stranger text"])
    assert found["problems"] == [], "no script errors and no Content-Security-Policy violations"


def test_questions_students_keep_asking_are_grouped_with_their_pages(commands: ChatCommands) -> None:
    asked = "How do I make a loop stop early?"

    async def scenario() -> tuple[list[dict], int]:
        for n, text in enumerate([asked, asked.lower(), asked.rstrip("?")]):
            link = f"https://cs101.slack.com/archives/C1/p{n}"  # asked where a thread can be linked
            await commands.ask(Question(text=text, course="cs101", platform="slack", link=link))
        async with served(commands, TOKEN) as base, aiohttp.ClientSession(headers=bearer()) as session:
            async with session.get(f"{base}/admin/api/repeats?course=cs101&weeks=1") as response:
                repeats = (await response.json())["repeats"]
            async with session.get(f"{base}/admin/api/repeats?weeks=0") as response:
                return repeats, response.status

    repeats, bad_weeks = asyncio.run(scenario())
    (loops,) = [repeat for repeat in repeats if repeat["question"] == asked]
    assert loops["count"] == 3 and loops["course"] == "cs101" and loops["pages"] and loops["pages"][0]["cited"] >= 1
    assert bad_weeks == 400
