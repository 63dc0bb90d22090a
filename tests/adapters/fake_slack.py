"""A local stand-in for Slack: the Web API methods the adapter calls, a Socket Mode
websocket, and response URLs, on 127.0.0.1. Every call is recorded for the tests to read."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import itertools
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from aiohttp import WSMsgType, web

BOT_USER = "UBOT"
BOT_ID = "BBOT"
TEAM = "T1"
WORKSPACE_URL = "https://cs101-test.slack.com/"


@dataclass
class Call:
    method: str
    args: dict[str, Any]
    headers: dict[str, str] = field(default_factory=dict)
    at: float = field(default_factory=time.monotonic)


class FakeSlack:
    def __init__(self, first_ts: int = 1) -> None:
        """`first_ts` numbers this workspace's messages from there, so fakes started one after another
        against one database (a restart) never reuse a message's ts."""
        self.calls: list[Call] = []
        self.acks: dict[str, dict[str, Any]] = {}
        self.auth_error: str | None = None
        self.rate_limited: dict[str, int] = {}
        """Method → how many of its next calls get HTTP 429 with Retry-After: 1."""
        self.threads: dict[str, list[dict[str, Any]]] = {}
        """Thread ts → the messages conversations.replies returns."""
        self.errors: dict[str, str] = {}
        """Method → the Slack error (e.g. `missing_scope`) every call of it gets."""
        self.unreachable: dict[str, int] = {}
        """Method → how many of its next calls are cut off before Slack handles them (a network error)."""
        self.server_errors: dict[str, int] = {}
        """Method → how many of its next calls fail on Slack's side (HTTP 500), not carried out."""
        self.replies_lost: dict[str, int] = {}
        """Method → how many of its next calls Slack carries out but whose reply is cut off on the way back."""
        self.messages: dict[str, dict[str, Any]] = {}
        """ts → the bot's messages as chat.postMessage and chat.update left them."""
        self.channels: dict[str, dict[str, Any]] = {
            "CGENERAL": {"id": "CGENERAL", "name": "general", "is_member": True},
            "CHELP": {"id": "CHELP", "name": "help", "is_member": True},
            "COUTSIDE": {"id": "COUTSIDE", "name": "outside", "is_member": False},
        }
        """Channel ID → what conversations.info says of it (others are `channel_not_found`)."""
        self.files: dict[str, bytes] = {}
        """File path (`/files/{id}/{name}`) → its bytes, served to the bot token only, as `url_private` is."""
        self.downloads: list[tuple[str, str | None]] = []
        """(file path, Authorization header) of every file request, in order."""
        self.names: dict[str, str] = {}
        """User id → the display name users.info returns."""
        self._ts = itertools.count(first_ts)
        self._ids = itertools.count(1)
        self._socket: web.WebSocketResponse | None = None
        self._socket_open = asyncio.Event()
        self._ack_waiters: dict[str, asyncio.Future[dict[str, Any]]] = {}
        self._changed = asyncio.Condition()
        self._runner: web.AppRunner | None = None
        self.port = 0

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/api/"

    def response_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/respond/{next(self._ids)}"

    async def start(self) -> None:
        server = web.Application()
        server.router.add_route("*", "/api/{method}", self._api)
        server.router.add_get("/socket", self._websocket)
        server.router.add_post("/respond/{id}", self._respond)
        server.router.add_get("/files/{id}/{name}", self._file)
        self._runner = web.AppRunner(server, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]

    async def stop(self) -> None:
        if self._socket is not None:
            await self._socket.close()
        if self._runner is not None:
            await self._runner.cleanup()

    def of(self, method: str) -> list[Call]:
        return [call for call in self.calls if call.method == method]

    async def wait_for(self, predicate: Callable[[], Any], timeout: float = 60.0) -> Any:
        """Wait until `predicate()` is truthy (re-checked on every recorded call) and return it."""
        async with self._changed:
            await asyncio.wait_for(self._changed.wait_for(predicate), timeout)
        return predicate()

    def file(self, name: str, data: bytes, mimetype: str, size: int | None = None) -> dict[str, Any]:
        """A file object as a `message` event lists it; `size` may claim more than `data`."""
        fid = f"F{next(self._ids)}"
        path = f"/files/{fid}/{name}"
        self.files[path] = data
        url = f"http://127.0.0.1:{self.port}{path}"
        return {"id": fid, "name": name, "title": name, "mimetype": mimetype, "filetype": name.rsplit(".", 1)[-1],
                "size": len(data) if size is None else size, "url_private": url, "url_private_download": url}

    async def _file(self, request: web.Request) -> web.Response:
        self.downloads.append((request.path, request.headers.get("Authorization")))
        if request.headers.get("Authorization") != "Bearer xoxb-test" or request.path not in self.files:
            return web.Response(text="<html>Sign in to Slack</html>", content_type="text/html")
        return web.Response(body=self.files[request.path], content_type="application/octet-stream")

    async def send_envelope(self, kind: str, payload: dict[str, Any], retry_attempt: int = 0) -> dict[str, Any]:
        """Deliver one Socket Mode envelope and wait for its ack; returns the ack."""
        await asyncio.wait_for(self._socket_open.wait(), 10)
        assert self._socket is not None
        envelope_id = f"env-{next(self._ids)}"
        waiter: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._ack_waiters[envelope_id] = waiter
        envelope = {
            "envelope_id": envelope_id,
            "type": kind,
            "payload": payload,
            "accepts_response_payload": kind != "events_api",
            "retry_attempt": retry_attempt,
            "retry_reason": "timeout" if retry_attempt else "",
        }
        await self._socket.send_str(json.dumps(envelope))
        return await asyncio.wait_for(waiter, 10)

    async def _record(self, call: Call) -> None:
        async with self._changed:
            self.calls.append(call)
            self._changed.notify_all()

    async def _api(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        args: dict[str, Any] = dict(request.query)
        if request.content_type == "application/json":
            args.update(await request.json())
        elif request.can_read_body:
            args.update(dict(await request.post()))
        await self._record(Call(method, args, dict(request.headers)))
        if self.rate_limited.get(method, 0) > 0:
            self.rate_limited[method] -= 1
            return web.json_response({"ok": False, "error": "ratelimited"}, status=429, headers={"Retry-After": "1"})
        if _take(self.unreachable, method):
            return _cut_off(request)
        if _take(self.server_errors, method):
            return web.json_response({"ok": False, "error": "internal_error"}, status=500)
        reply = web.json_response(self._reply(method, args))
        return _cut_off(request) if _take(self.replies_lost, method) else reply

    def _reply(self, method: str, args: dict[str, Any]) -> dict[str, Any]:
        if method in self.errors:
            return {"ok": False, "error": self.errors[method]}
        if method == "auth.test":
            if self.auth_error:
                return {"ok": False, "error": self.auth_error}
            return {"ok": True, "user_id": BOT_USER, "bot_id": BOT_ID, "team_id": TEAM, "user": "mentor", "team": "Test", "url": WORKSPACE_URL}
        if method == "apps.connections.open":
            return {"ok": True, "url": f"ws://127.0.0.1:{self.port}/socket"}
        if method in ("chat.postMessage", "chat.update"):
            ts = args.get("ts") or f"1700000100.{next(self._ts):06d}"
            kept = self.messages.setdefault(ts, {"ts": ts, "user": BOT_USER, "bot_id": BOT_ID, "thread_ts": args.get("thread_ts")})
            kept["text"] = args.get("text")
            return {"ok": True, "channel": args.get("channel"), "ts": ts, "message": {"text": args.get("text")}}
        if method == "chat.delete":
            return {"ok": self.messages.pop(str(args.get("ts")), None) is not None, "ts": args.get("ts")}
        if method == "reactions.add":
            return {"ok": True}
        if method == "chat.postEphemeral":
            return {"ok": True, "message_ts": f"1700000200.{next(self._ts):06d}"}
        if method == "views.open":
            view = args["view"] if isinstance(args.get("view"), dict) else json.loads(args["view"])
            return {"ok": True, "view": {"id": f"V{next(self._ids)}", **view}}
        if method == "conversations.info":
            known = self.channels.get(str(args.get("channel")))
            return {"ok": True, "channel": known} if known else {"ok": False, "error": "channel_not_found"}
        if method == "users.info":
            uid = str(args.get("user"))
            name = self.names.get(uid, uid.lower())
            return {"ok": True, "user": {"id": uid, "name": uid.lower(), "real_name": name, "profile": {"display_name": name}}}
        if method == "conversations.replies":
            thread = str(args.get("ts"))
            thread = str((self.messages.get(thread) or {}).get("thread_ts") or thread)  # a reply's ts names its thread, as in Slack
            messages = self.threads.get(thread, []) + [m for m in self.messages.values() if m["thread_ts"] == thread]
            oldest, latest = float(args.get("oldest") or 0), float(args.get("latest") or "inf")
            # The parent first, as Slack gives it (a thread's starter is read with limit=1), then the replies in time order.
            in_order = sorted((m for m in messages if oldest <= float(m["ts"]) <= latest), key=lambda m: (m["ts"] != thread, float(m["ts"])))
            return {"ok": True, "messages": in_order, "has_more": False}
        return {"ok": False, "error": "unknown_method"}

    async def _websocket(self, request: web.Request) -> web.WebSocketResponse:
        socket = web.WebSocketResponse(autoping=True)
        await socket.prepare(request)
        self._socket = socket
        await socket.send_str(json.dumps({"type": "hello", "num_connections": 1}))
        self._socket_open.set()
        async for message in socket:
            if message.type != WSMsgType.TEXT:
                continue
            ack = json.loads(message.data)
            self.acks[ack["envelope_id"]] = ack
            waiter = self._ack_waiters.pop(ack["envelope_id"], None)
            if waiter is not None and not waiter.done():
                waiter.set_result(ack)
        return socket

    async def _respond(self, request: web.Request) -> web.Response:
        await self._record(Call("respond", await request.json(), dict(request.headers)))
        return web.Response(text="ok")


def _take(counts: dict[str, int], method: str) -> bool:
    if counts.get(method, 0) <= 0:
        return False
    counts[method] -= 1
    return True


def _cut_off(request: web.Request) -> web.Response:
    """Close the connection without a reply: the client sees a network error, not a Slack one."""
    assert request.transport is not None
    request.transport.close()
    return web.Response(status=204)


def signed_headers(secret: str, body: str, timestamp: int | None = None, retry: int | None = None) -> dict[str, str]:
    """Headers Slack sends with an HTTP event: `v0=` + HMAC-SHA256 of `v0:{ts}:{body}`."""
    ts = str(timestamp if timestamp is not None else int(time.time()))
    digest = hmac.new(secret.encode(), f"v0:{ts}:{body}".encode(), hashlib.sha256).hexdigest()
    headers = {"X-Slack-Request-Timestamp": ts, "X-Slack-Signature": f"v0={digest}", "Content-Type": "application/json"}
    if retry is not None:
        headers |= {"X-Slack-Retry-Num": str(retry), "X-Slack-Retry-Reason": "http_timeout"}
    return headers


def reaction(kind: str, name: str, channel: str, ts: str, user: str = "USTUDENT") -> dict[str, Any]:
    """A `reaction_added` or `reaction_removed` event on a message."""
    return {
        "type": kind, "user": user, "reaction": name, "item_user": BOT_USER,
        "item": {"type": "message", "channel": channel, "ts": ts}, "event_ts": f"{time.time():.6f}",
    }


def event_body(event: dict[str, Any], event_id: str) -> dict[str, Any]:
    """An Events API `event_callback` wrapping `event`."""
    return {
        "token": "legacy",
        "team_id": TEAM,
        "api_app_id": "A1",
        "event": event,
        "type": "event_callback",
        "event_id": event_id,
        "event_time": int(time.time()),
        "authorizations": [{"team_id": TEAM, "user_id": BOT_USER, "is_bot": True}],
    }


def block_action(action_id: str, value: str, *, user: str = "UTA1", channel: str = "CTAQUEUE", message_ts: str = "") -> dict[str, Any]:
    """A `block_actions` payload: a button clicked on a message (sent as `payload=` in HTTP mode)."""
    return {
        "type": "block_actions", "team": {"id": TEAM}, "api_app_id": "A1", "token": "legacy",
        "user": {"id": user, "username": user.lower(), "name": user.lower(), "team_id": TEAM},
        "channel": {"id": channel, "name": "ta-queue"}, "container": {"type": "message", "message_ts": message_ts, "channel_id": channel},
        "message": {"ts": message_ts, "type": "message"}, "trigger_id": f"trigger-{time.time_ns()}",
        "response_url": "", "actions": [{"action_id": action_id, "block_id": f"escalation_{value}", "type": "button", "value": value,
                                        "action_ts": f"{time.time():.6f}"}],
    }


def view_submission(view: dict[str, Any], values: dict[str, str], *, user: str = "UTA1") -> dict[str, Any]:
    """A `view_submission` payload: the modal `views.open` was given, submitted with `values` (block id → text)."""
    state = {"values": {block: {"text": {"type": "plain_text_input", "value": text}} for block, text in values.items()}}
    return {
        "type": "view_submission", "team": {"id": TEAM}, "api_app_id": "A1", "token": "legacy",
        "user": {"id": user, "username": user.lower(), "name": user.lower(), "team_id": TEAM},
        "trigger_id": f"trigger-{time.time_ns()}", "view": {**view, "id": "V1", "state": state},
    }


def signed_form(secret: str, payload: dict[str, Any], timestamp: int | None = None) -> tuple[str, dict[str, str]]:
    """An interactive request as Slack posts it over HTTP: `payload=<json>`, form-encoded and signed."""
    body = urlencode({"payload": json.dumps(payload)})
    headers = signed_headers(secret, body, timestamp) | {"Content-Type": "application/x-www-form-urlencoded"}
    return body, headers
