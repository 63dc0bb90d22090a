"""The instructor's page at `/admin`: what the bot knows, what it was asked, what it could not answer.

One HTML page (plain HTML, CSS and JavaScript from `static/`) over a small JSON API:
the courses' index status, reindex runs, questions the materials did not cover,
recent questions and feedback. A reindex started here goes through the same
`ReindexService` as the schedule and the slash commands, so it is single-flight per
course; its progress is streamed to the page as server-sent events.

Every route checks access first: with `web.admin_token` set, the token (a bearer
header, or `?token=` on the page and the URLs it loads itself); without one, only a
request from this machine gets in.

    app = web.Application()
    add_admin_routes(app, commands, settings.web)
"""

from __future__ import annotations

import asyncio
import hmac
import ipaddress
import json
import logging
import os
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from functools import cached_property
from pathlib import Path
from typing import Literal
from urllib.parse import quote

from aiohttp import web

from bot.chat import ChatCommands
from bot.errors import BotError, BusyError, ReindexBusyError, UnknownCourseError
from bot.history import RunHistory, RunRecord
from bot.question_log import AskedQuestion
from bot.reindex_lock import RunningReindex
from bot.settings import WebSettings
from ingest.errors import IngestError
from rag.errors import RagError

log = logging.getLogger(__name__)

STATIC = Path(__file__).with_name("static")
ASSETS = {"admin.js": "text/javascript", "admin.css": "text/css"}
ASSET_QUERY = "{{asset_query}}"
"""Where the page's asset URLs get `?token=…` when the page itself was opened with it."""

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; object-src 'none'; "
    "base-uri 'none'; frame-ancestors 'none'"
)
PAGE_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}
API_HEADERS = {"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"}
FORWARDING_HEADERS = ("Forwarded", "X-Forwarded-For", "X-Real-IP")
"""A proxy on this machine makes every request look local: with these, a request is not."""

DEFAULT_LIMIT, MAX_LIMIT = 50, 500
KEEPALIVE_SECONDS = 15.0
MAX_REQUESTER_CHARS = 64

NEEDS_TOKEN = (
    "The instructor's page needs the admin token: open /admin?token=<token> or send "
    "'Authorization: Bearer <token>', with the token set in MENTOR_WEB__ADMIN_TOKEN."
)
WRONG_TOKEN = "That is not the admin token: use the one set in MENTOR_WEB__ADMIN_TOKEN."
LOCAL_ONLY = (
    "The instructor's page answers only this machine (127.0.0.1) while no admin token is set: "
    "set MENTOR_WEB__ADMIN_TOKEN to open it from elsewhere."
)
SERVER_STOPPING = "The server is stopping; the run's outcome will be in the reindex history."
NO_LIVE_RUN = "No reindex of {course} was started from this page since the server started."

Access = Literal["page", "asset", "api"]
"""`?token=` is accepted on what a browser loads by URL (the page, its assets, the progress
stream); the JSON API takes the bearer header only."""

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def add_admin_routes(app: web.Application, commands: ChatCommands, settings: WebSettings) -> None:
    """Every route under /admin (page, its static files, its JSON API)."""
    AdminPage(commands, settings).add_to(app)


@dataclass(frozen=True)
class Refusal:
    status: int
    message: str


class LiveRun:
    """A reindex started from this page: its latest progress and, once over, its outcome.

    Watchers wait on `changed`, which is replaced on every update, so a slow watcher
    skips to the latest progress instead of queueing every step.
    """

    def __init__(self, course: str, requested_by: str) -> None:
        self.course = course
        self.requested_by = requested_by
        self.started_at = datetime.now(timezone.utc)
        self.progress: dict[str, object] | None = None
        self.outcome: tuple[str, dict[str, object]] | None = None
        self.changed = asyncio.Event()

    @property
    def over(self) -> bool:
        return self.outcome is not None

    def busy_message(self) -> str:
        return RunningReindex(self.course, "admin page", self.requested_by, self.started_at, os.getpid()).describe()

    def handle(self) -> dict[str, object]:
        return {
            "course": self.course,
            "requested_by": self.requested_by,
            "started_at": self.started_at.isoformat(),
            "events": f"/admin/api/reindex/{quote(self.course)}/events",
        }

    def report_progress(self, done: int, total: int, source: str) -> None:
        if not self.over:
            self.progress = {"done": done, "total": total, "source": source}
            self._touch()

    def finish(self, record: RunRecord) -> None:
        self.outcome = ("done", {"record": record.to_json(), "summary": record.summary()})
        self._touch()

    def fail(self, message: str, *, busy: bool = False) -> None:
        self.outcome = ("error", {"message": message, "busy": busy})
        self._touch()

    def wake(self) -> None:
        self._touch()

    def _touch(self) -> None:
        changed, self.changed = self.changed, asyncio.Event()
        changed.set()


class AdminPage:
    def __init__(self, commands: ChatCommands, settings: WebSettings) -> None:
        self.commands = commands
        self.mentor = commands.mentor
        secret = settings.admin_token.get_secret_value() if settings.admin_token else ""
        self.token = secret.encode() if secret else None
        """An empty MENTOR_WEB__ADMIN_TOKEN counts as unset: this machine only, never "any token"."""
        self.runs: dict[str, LiveRun] = {}
        """The latest run started here, per course (kept when over, for a late watcher)."""
        self.tasks: set[asyncio.Task[None]] = set()
        self.stopping = False

    def add_to(self, app: web.Application) -> None:
        routes = [
            ("GET", "/admin", self.page, "page"),
            ("GET", "/admin/", self.page, "page"),
            ("GET", "/admin/static/{name}", self.asset, "asset"),
            ("GET", "/admin/api/status", self.status, "api"),
            ("GET", "/admin/api/history", self.history, "api"),
            ("GET", "/admin/api/gaps", self.gaps, "api"),
            ("GET", "/admin/api/questions", self.questions, "api"),
            ("GET", "/admin/api/feedback", self.feedback, "api"),
            ("POST", "/admin/api/reindex/{course}", self.start_reindex, "api"),
            ("GET", "/admin/api/reindex/{course}/events", self.reindex_events, "page"),
        ]
        for method, path, handler, access in routes:
            app.router.add_route(method, path, self._guarded(handler, access))
        app.on_shutdown.append(self._on_shutdown)
        app.on_cleanup.append(self._on_cleanup)

    # --- access ---------------------------------------------------------------------------

    def _guarded(self, handler: Handler, access: Access) -> Handler:
        async def guarded(request: web.Request) -> web.StreamResponse:
            refusal = self._refusal(request, access)
            if refusal is not None:
                return self._refuse(refusal, access)
            try:
                return await handler(request)
            except BusyError as exc:
                return _json({"error": str(exc)}, 503)
            except UnknownCourseError as exc:
                return _json({"error": str(exc)}, 404)
            except (BotError, RagError, IngestError) as exc:
                log.warning("admin page request %s failed: %s", request.path, exc)
                return _json({"error": str(exc)}, 503)

        return guarded

    def _refusal(self, request: web.Request, access: Access) -> Refusal | None:
        if self.token is None:
            return None if _is_local(request) else Refusal(403, LOCAL_ONLY)
        offered = _bearer(request)
        if offered is None and access != "api":
            offered = request.query.get("token")
        if offered is None:
            return Refusal(401, NEEDS_TOKEN)
        if not hmac.compare_digest(offered.encode(), self.token):
            return Refusal(401, WRONG_TOKEN)
        return None

    def _refuse(self, refusal: Refusal, access: Access) -> web.Response:
        headers = {"WWW-Authenticate": 'Bearer realm="mentor-admin"'} if refusal.status == 401 else {}
        if access == "api":
            return _json({"error": refusal.message}, refusal.status, headers)
        return web.Response(text=refusal.message, status=refusal.status, headers=PAGE_HEADERS | headers)

    # --- the page -------------------------------------------------------------------------

    @cached_property
    def template(self) -> str:
        return (STATIC / "admin.html").read_text(encoding="utf-8")

    async def page(self, request: web.Request) -> web.Response:
        # Assets are loaded by URL, with no header: they carry the token the page was opened with.
        by_query = self.token is not None and _bearer(request) is None
        query = "?token=" + quote(request.query["token"], safe="") if by_query else ""
        html = self.template.replace(ASSET_QUERY, query.replace("&", "&amp;"))
        return web.Response(text=html, content_type="text/html", headers=PAGE_HEADERS)

    async def asset(self, request: web.Request) -> web.StreamResponse:
        name = request.match_info["name"]
        if name not in ASSETS:
            raise web.HTTPNotFound(text=f"No file {name} here.")
        return web.FileResponse(
            STATIC / name, headers={"Content-Type": ASSETS[name], "X-Content-Type-Options": "nosniff", "Cache-Control": "no-cache"}
        )

    # --- the JSON API ---------------------------------------------------------------------

    async def status(self, request: web.Request) -> web.Response:
        def read() -> dict[str, object]:
            model = self.mentor.model_status()
            courses = [course.to_json() for course in self.mentor.status()]
            return {"model": model.to_json(), "courses": courses}

        found = await self.mentor.offloader.run(read)
        for course in found["courses"]:  # type: ignore[attr-defined]
            live = self.runs.get(course["course"])
            course["following"] = live.handle() if live is not None and not live.over else None
        return _json(found)

    async def history(self, request: web.Request) -> web.Response:
        course, limit = self._course(request), _limit(request)
        runs = await self.mentor.offloader.run(RunHistory(self.mentor.settings.history_path).runs, course, limit)
        return _json({"runs": [run.to_json() for run in runs]})

    async def gaps(self, request: web.Request) -> web.Response:
        course, limit = self._course(request), _limit(request)
        gaps = await self.mentor.offloader.run(self.commands.questions.gaps, course, limit)
        return _json({"gaps": [gap.to_json() for gap in gaps]})

    async def questions(self, request: web.Request) -> web.Response:
        course, limit = self._course(request), _limit(request)
        asked = await self.mentor.offloader.run(self.commands.questions.recent, course, limit)
        return _json({"questions": [_asked_json(question) for question in asked]})

    async def feedback(self, request: web.Request) -> web.Response:
        course, limit = self._course(request), _limit(request, 100)
        votes = await self.mentor.offloader.run(self.commands.questions.feedback, course, limit)
        return _json({"feedback": [vote.to_json() for vote in votes]})

    def _course(self, request: web.Request) -> str | None:
        name = request.query.get("course") or None
        if name is not None:
            self._known(name)
        return name

    def _known(self, name: str) -> None:
        names = self.mentor.settings.course_names()
        if name not in names:
            raise UnknownCourseError(f"There is no course named {name!r}; the courses are: {', '.join(names)}.")

    # --- reindex --------------------------------------------------------------------------

    async def start_reindex(self, request: web.Request) -> web.Response:
        course = request.match_info["course"]
        self._known(course)
        requested_by = await _requester(request)
        if self.stopping:
            return _json({"error": SERVER_STOPPING}, 503)
        # No await from here on: two clicks at once cannot both get past this check.
        running = self.runs.get(course)
        if running is not None and not running.over:
            return _json({"error": running.busy_message(), "following": running.handle()}, 409)
        live = self.runs[course] = LiveRun(course, requested_by)
        task = asyncio.create_task(self._reindex(live), name=f"admin reindex {course}")
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)
        log.info("reindex of %s started from the admin page by %s", course, requested_by)
        return _json(live.handle(), 202)

    async def _reindex(self, live: LiveRun) -> None:
        loop = asyncio.get_running_loop()

        def on_progress(done: int, total: int, source: str) -> None:  # on the worker thread
            try:
                loop.call_soon_threadsafe(live.report_progress, done, total, source)
            except RuntimeError:  # the loop is closed: nobody is watching any more
                pass

        try:
            record = await self.commands.reindexer.reindex_async(live.course, "admin page", live.requested_by, on_progress)
        except ReindexBusyError as exc:
            live.fail(str(exc), busy=True)
        except (BotError, RagError, IngestError) as exc:
            live.fail(str(exc))
        except asyncio.CancelledError:
            live.fail(SERVER_STOPPING)
            raise
        except Exception as exc:
            log.exception("reindex of %s from the admin page failed", live.course)
            live.fail(f"The reindex failed: {type(exc).__name__}: {exc}")
        else:
            live.finish(record)

    async def reindex_events(self, request: web.Request) -> web.StreamResponse:
        """`progress` {done, total, source} as files are read, then `done` {record, summary} or `error` {message, busy}."""
        course = request.match_info["course"]
        self._known(course)
        live = self.runs.get(course)
        if live is None:
            return _json({"error": NO_LIVE_RUN.format(course=course)}, 404)
        response = web.StreamResponse(
            headers=API_HEADERS | {"Content-Type": "text/event-stream", "X-Accel-Buffering": "no"}
        )
        await response.prepare(request)
        try:
            await self._stream(live, response)
            await response.write_eof()
        except ConnectionResetError:  # the page was closed; the run goes on
            pass
        return response

    async def _stream(self, live: LiveRun, response: web.StreamResponse) -> None:
        sent: dict[str, object] | None = None
        while True:
            changed = live.changed
            if live.progress is not sent and live.progress is not None:
                sent = live.progress
                await _send(response, "progress", sent)
            if live.outcome is not None:
                await _send(response, *live.outcome)
                return
            if self.stopping:
                await _send(response, "error", {"message": SERVER_STOPPING, "busy": False})
                return
            try:
                await asyncio.wait_for(changed.wait(), KEEPALIVE_SECONDS)
            except TimeoutError:
                await response.write(b": keep-alive\n\n")

    # --- lifecycle ------------------------------------------------------------------------

    async def _on_shutdown(self, app: web.Application) -> None:
        """Let open progress streams end, so the server does not wait on them."""
        self.stopping = True
        for live in self.runs.values():
            live.wake()

    async def _on_cleanup(self, app: web.Application) -> None:
        """Stop waiting on runs still going (their worker finishes them and records the outcome)."""
        self.stopping = True
        for task in list(self.tasks):
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)


def _bearer(request: web.Request) -> str | None:
    scheme, _, value = request.headers.get("Authorization", "").partition(" ")
    return value.strip() if scheme.lower() == "bearer" and value.strip() else None


def _is_local(request: web.Request) -> bool:
    if any(header in request.headers for header in FORWARDING_HEADERS):
        return False
    try:
        address = ipaddress.ip_address((request.remote or "").split("%")[0])
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return address.is_loopback


def _limit(request: web.Request, default: int = DEFAULT_LIMIT) -> int:
    text = request.query.get("limit")
    try:
        limit = int(text) if text else default
    except ValueError:
        limit = 0
    if not 1 <= limit <= MAX_LIMIT:
        raise web.HTTPBadRequest(
            text=json.dumps({"error": f"limit is a number from 1 to {MAX_LIMIT}."}), content_type="application/json", headers=API_HEADERS
        )
    return limit


async def _requester(request: web.Request) -> str:
    """Who to name in the history and in a busy message: `requested_by` from the JSON body, if any."""
    name = ""
    if request.can_read_body:
        try:
            body = await request.json()
        except ValueError:
            body = None
        if isinstance(body, dict) and isinstance(body.get("requested_by"), str):
            name = " ".join(body["requested_by"].split())[:MAX_REQUESTER_CHARS]
    return name or "instructor"


def _asked_json(question: AskedQuestion) -> dict[str, object]:
    """A recent question for the page (who asked stays out: the instructor sees what, not who)."""
    return {
        "id": question.id,
        "asked_at": question.asked_at.isoformat(),
        "course": question.course,
        "platform": question.platform,
        "question": question.text,
        "kind": question.kind,
        "grounded": question.grounded,
        "citations": [{"label": c.label, "url": c.url} for c in question.citations],
        "total_ms": round(question.total_ms, 1),
    }


def _dumps(data: object) -> str:
    """JSON with `<`, `>` and `&` escaped too, so no markup survives even where JSON is taken for HTML."""
    return json.dumps(data).replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def _json(data: object, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    return web.json_response(data, status=status, headers=API_HEADERS | (headers or {}), dumps=_dumps)


async def _send(response: web.StreamResponse, event: str, data: dict[str, object]) -> None:
    await response.write(f"event: {event}\ndata: {_dumps(data)}\n\n".encode())
