"""A local stand-in for Discord: the REST API and the gateway, on 127.0.0.1.

The real discord.py client talks to it; it records every REST call, counts heartbeats,
and lets a test push gateway events, replay them after a resume, and make chosen
requests fail (401, 403, 429) the way Discord does.
"""

from __future__ import annotations

import asyncio
import itertools
import json
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote

from aiohttp import WSMsgType, web

GUILD = 811111111111111111
CHANNEL = 822222222222222222
THREAD = 833333333333333333
DM = 833333333333333334
BOT = 844444444444444444
APP = 855555555555555555
STUDENT = 866666666666666666
TEACHER = 877777777777777777
OTHER_BOT = 888888888888888888
TA_ROLE = 899999999999999999
BOT_ROLE = 899999999999999998
FORUM = 822222222222222223
"""A forum channel (type 15) where the bot's role may view, read history and post in threads."""
LOCKED_FORUM = 822222222222222224
"""A forum channel where the bot may do nothing (no permission overwrite for its role)."""
MANAGE_GUILD = 1 << 5
TA_QUEUE = 822222222222222225
"""A private text channel where the bot's role may view, post and open threads: a course's Discord TA queue."""
QUEUE_PERMISSIONS = (1 << 10) | (1 << 11) | (1 << 35)
"""View Channel, Send Messages, Create Public Threads."""
FORUM_PERMISSIONS = (1 << 10) | (1 << 16) | (1 << 38)
"""View Channel, Read Message History, Send Messages in Threads."""
NOW = "2024-09-01T10:00:00.000000+00:00"

_ids = itertools.count(900000000000000000)


def snowflake() -> int:
    return next(_ids)


def user(uid: int, name: str, bot: bool = False) -> dict[str, Any]:
    return {"id": str(uid), "username": name, "discriminator": "0", "global_name": None, "avatar": None, "bot": bot, "public_flags": 0}


def member(uid: int, name: str, roles: list[int] = (), bot: bool = False) -> dict[str, Any]:
    return {
        "user": user(uid, name, bot),
        "roles": [str(r) for r in roles],
        "joined_at": NOW,
        "nick": None,
        "avatar": None,
        "premium_since": None,
        "pending": False,
        "deaf": False,
        "mute": False,
        "flags": 0,
    }


def role(rid: int, name: str, permissions: int = 0, bot_id: int | None = None) -> dict[str, Any]:
    payload = {"id": str(rid), "name": name, "color": 0, "hoist": False, "position": 0, "permissions": str(permissions),
               "managed": bot_id is not None, "mentionable": False, "flags": 0, "icon": None, "unicode_emoji": None}
    if bot_id is not None:
        payload["tags"] = {"bot_id": str(bot_id)}
    return payload


def text_channel(cid: int) -> dict[str, Any]:
    return {"id": str(cid), "type": 0, "guild_id": str(GUILD), "name": "questions", "position": 0, "permission_overwrites": [],
            "nsfw": False, "parent_id": None, "topic": None, "last_message_id": None, "rate_limit_per_user": 0, "flags": 0}


def forum_channel(cid: int, name: str, bot_allowed: int = 0) -> dict[str, Any]:
    """A forum channel (type 15); `bot_allowed`: the permissions an overwrite grants the bot's role there."""
    overwrites = [{"id": str(BOT_ROLE), "type": 0, "allow": str(bot_allowed), "deny": "0"}] if bot_allowed else []
    return {"id": str(cid), "type": 15, "guild_id": str(GUILD), "name": name, "position": 1, "permission_overwrites": overwrites,
            "nsfw": False, "parent_id": None, "topic": None, "last_message_id": None, "rate_limit_per_user": 0, "flags": 0,
            "available_tags": [], "default_reaction_emoji": None, "default_thread_rate_limit_per_user": 0,
            "default_sort_order": None, "default_forum_layout": 0}


def thread(tid: int, parent: int, name: str, owner: int = BOT) -> dict[str, Any]:
    return {
        "id": str(tid), "type": 11, "guild_id": str(GUILD), "parent_id": str(parent), "owner_id": str(owner), "name": name,
        "message_count": 0, "member_count": 1, "rate_limit_per_user": 0, "flags": 0, "last_message_id": None,
        "thread_metadata": {"archived": False, "auto_archive_duration": 1440, "archive_timestamp": NOW, "locked": False},
    }


def message(channel: int, author: dict[str, Any], content: str, *, mentions: list[dict[str, Any]] = (), guild: bool = True,
            mid: int | None = None, kind: int = 0, referenced: dict[str, Any] | None = None, roles: list[int] = ()) -> dict[str, Any]:
    payload: dict[str, Any] = {
        "id": str(mid or snowflake()), "channel_id": str(channel), "author": author, "content": content, "timestamp": NOW,
        "edited_timestamp": None, "tts": False, "mention_everyone": False, "mentions": list(mentions), "mention_roles": [],
        "attachments": [], "embeds": [], "pinned": False, "type": kind, "flags": 0, "components": [],
    }
    if guild:
        payload["guild_id"] = str(GUILD)
        payload["member"] = {k: v for k, v in member(int(author["id"]), author["username"], roles).items() if k != "user"}
    if referenced is not None:
        payload["message_reference"] = {"message_id": referenced["id"], "channel_id": referenced["channel_id"], "guild_id": str(GUILD)}
        payload["referenced_message"] = referenced
    return payload


def forum_post(title: str, content: str, *, forum: int = FORUM, author_id: int = STUDENT, bot: bool = False,
               attachments: list[dict[str, Any]] = ()) -> tuple[dict[str, Any], dict[str, Any]]:
    """A new forum post as the gateway sends it: THREAD_CREATE, then MESSAGE_CREATE of its starter (same id)."""
    tid = snowflake()
    created = thread(tid, forum, title, owner=author_id) | {"newly_created": True}
    starter = message(tid, user(author_id, "bot" if bot else "student", bot), content, mid=tid)
    starter["attachments"] = list(attachments)
    return created, starter


def mention(content: str, *, channel: int = CHANNEL, author_id: int = STUDENT, bot: bool = False, mid: int | None = None) -> dict[str, Any]:
    """A MESSAGE_CREATE that mentions the bot: `content` gets `<@BOT>` in front."""
    return message(channel, user(author_id, "student", bot), f"<@{BOT}> {content}", mentions=[user(BOT, "mentor", True)], mid=mid)


def reaction(message_id: int, emoji: str, *, uid: int = STUDENT, channel: int = THREAD, removed: bool = False) -> dict[str, Any]:
    """A MESSAGE_REACTION_ADD payload in the guild for a unicode emoji; `removed`: a _REMOVE one (no `member`)."""
    payload: dict[str, Any] = {
        "user_id": str(uid), "channel_id": str(channel), "message_id": str(message_id), "guild_id": str(GUILD),
        "emoji": {"id": None, "name": emoji}, "burst": False, "burst_colors": [], "type": 0,
    }
    if not removed:
        payload["member"] = member(uid, "mentor" if uid == BOT else "student", bot=uid == BOT)
    return payload


def slash(name: str, options: dict[str, str], *, uid: int = STUDENT, roles: list[int] = (), permissions: int = 0) -> dict[str, Any]:
    """An INTERACTION_CREATE for a slash command in the questions channel."""
    member_payload = member(uid, "someone", roles) | {"permissions": str(permissions)}
    return {
        "id": str(snowflake()), "application_id": str(APP), "type": 2, "token": f"token-{snowflake()}", "version": 1,
        "guild_id": str(GUILD), "channel_id": str(CHANNEL), "channel": text_channel(CHANNEL), "member": member_payload,
        "data": {"id": str(snowflake()), "name": name, "type": 1,
                 "options": [{"name": k, "type": 3, "value": v} for k, v in options.items()]},
        "app_permissions": str((1 << 41) - 1), "locale": "en-US", "guild_locale": "en-US", "entitlements": [],
        "authorizing_integration_owners": {"0": str(GUILD)}, "context": 0, "attachment_size_limit": 8388608,
    }


def component(custom_id: str, clicked: dict[str, Any], *, uid: int = STUDENT) -> dict[str, Any]:
    """An INTERACTION_CREATE for a button (`custom_id`) clicked on the message `clicked`, in that message's thread."""
    channel = int(clicked["channel_id"])
    payload = slash("unused", {}, uid=uid) | {"type": 3, "channel_id": str(channel), "channel": thread(channel, CHANNEL, "question"),
                                             "message": clicked, "data": {"custom_id": custom_id, "component_type": 2}}
    payload["member"]["user"]["username"] = "student"
    return payload


def modal_submit(modal: dict[str, Any], values: dict[str, str], clicked: dict[str, Any], *, uid: int = STUDENT) -> dict[str, Any]:
    """An INTERACTION_CREATE of type 5 (MODAL_SUBMIT) for `modal` (the `data` of the bot's type 9 callback),
    opened from a button on `clicked`, as Discord sends it: the modal's custom id, and its components in
    the same shape (action rows or labels) with each text input's `value` (from `values` by custom id, else
    what it was prefilled with); a text display comes back with its content (discord.py's
    `ModalSubmitTextDisplayInteractionData`)."""
    ids = itertools.count(1)

    def submitted(item: dict[str, Any]) -> dict[str, Any]:
        if item["type"] == 1:
            return {"type": 1, "id": next(ids), "components": [submitted(c) for c in item["components"]]}
        if item["type"] == 18:
            return {"type": 18, "id": next(ids), "component": submitted(item["component"])}
        if item["type"] == 4:
            value = values.get(item["custom_id"], item.get("value") or "")
            return {"type": 4, "id": next(ids), "custom_id": item["custom_id"], "value": value}
        return {"type": item["type"], "id": next(ids), "content": item.get("content", "")}

    payload = component("unused", clicked, uid=uid)
    payload["type"] = 5
    payload["data"] = {"custom_id": modal["custom_id"], "components": [submitted(c) for c in modal["components"]]}
    return payload


@dataclass
class Call:
    method: str
    path: str
    query: dict[str, str]
    body: Any


@dataclass
class FakeDiscord:
    heartbeat_ms: int = 200
    calls: list[Call] = field(default_factory=list)
    history: dict[int, list[dict[str, Any]]] = field(default_factory=dict)
    """Channel id → its messages, newest first, as GET /channels/{id}/messages returns them."""
    failures: list[tuple[str, str, int, Any, int]] = field(default_factory=list)
    """(method, path suffix, status, body, times): answer matching requests with an error."""
    heartbeats: int = 0
    identifies: int = 0
    resumes: int = 0
    replay: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    """Events sent again after the next RESUME, as a real gateway replays what the client missed."""
    created: dict[int, list[dict[str, Any]]] = field(default_factory=dict)
    """Channel id → the messages the bot posted there, as returned to it (ids included)."""
    files: dict[str, bytes] = field(default_factory=dict)
    """Attachment path (`/attachments/{id}/{name}`) → its bytes, served as Discord's CDN serves them."""
    downloads: list[str] = field(default_factory=list)
    """Attachment paths fetched, in order."""

    def __post_init__(self) -> None:
        self._seq = 0
        self._ws: web.WebSocketResponse | None = None
        self._runner: web.AppRunner | None = None
        self.port = 0

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/api/v10"

    @property
    def gateway_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/gateway"

    def attachment(self, name: str, data: bytes, content_type: str | None, size: int | None = None) -> dict[str, Any]:
        """An attachment payload whose URL this fake serves; `size` may claim more than `data` (a file not worth serving)."""
        aid = snowflake()
        path = f"/attachments/{aid}/{name}"
        self.files[path] = data
        url = f"http://127.0.0.1:{self.port}{path}"
        payload: dict[str, Any] = {"id": str(aid), "filename": name, "size": len(data) if size is None else size, "url": url,
                                   "proxy_url": url}
        if content_type is not None:
            payload["content_type"] = content_type
        return payload

    async def post(self, title: str, content: str, **options: Any) -> dict[str, Any]:
        """Dispatch a new forum post (`forum_post`'s options); returns its starter message."""
        created, starter = forum_post(title, content, **options)
        await self.dispatch("THREAD_CREATE", created)
        await self.dispatch("MESSAGE_CREATE", starter)
        return starter

    async def start(self) -> None:
        app = web.Application()
        app.router.add_get("/gateway", self._gateway)
        app.router.add_get("/attachments/{id}/{name}", self._file)
        app.router.add_route("*", "/api/v10/{tail:.*}", self._rest)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        if self._ws is not None:
            await self._ws.close()
        if self._runner is not None:
            await self._runner.cleanup()

    def fail(self, method: str, suffix: str, status: int, body: Any, times: int = 1) -> None:
        self.failures.append((method, suffix, status, body, times))

    def posted(self, suffix: str = "/messages") -> list[Call]:
        return [c for c in self.calls if c.method == "POST" and c.path.endswith(suffix)]

    def modals(self) -> list[dict[str, Any]]:
        """The modals the bot opened (interaction callbacks of type 9), oldest first: each one's custom id, title and components."""
        return [c.body["data"] for c in self.posted("/callback") if c.path.startswith("/interactions/") and (c.body or {}).get("type") == 9]

    def reactions(self, message_id: int) -> list[str]:
        """The emoji the bot put on a message (PUT .../reactions/{emoji}/@me), in order."""
        marker = f"/messages/{message_id}/reactions/"
        return [unquote(c.path.split(marker)[1].removesuffix("/@me")) for c in self.calls if c.method == "PUT" and marker in c.path]

    async def wait_for(self, predicate, timeout: float = 30.0) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while not predicate():
            if loop.time() > deadline:
                raise AssertionError(f"timed out; calls so far: {[(c.method, c.path) for c in self.calls]}")
            await asyncio.sleep(0.02)

    async def dispatch(self, event: str, data: dict[str, Any]) -> None:
        assert self._ws is not None, "no client connected"
        self._seq += 1
        await self._ws.send_str(json.dumps({"op": 0, "s": self._seq, "t": event, "d": data}))

    async def reconnect(self) -> None:
        """Op 7: the client drops the socket and RESUMEs at `resume_gateway_url`."""
        assert self._ws is not None
        await self._ws.send_str(json.dumps({"op": 7, "d": None}))

    # The gateway -----------------------------------------------------------------

    async def _gateway(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        self._ws = ws
        await ws.send_str(json.dumps({"op": 10, "d": {"heartbeat_interval": self.heartbeat_ms}}))
        async for frame in ws:
            if frame.type is not WSMsgType.TEXT:
                continue
            payload = json.loads(frame.data)
            if payload["op"] == 1:
                self.heartbeats += 1
                await ws.send_str(json.dumps({"op": 11}))
            elif payload["op"] == 2:
                self.identifies += 1
                await self.dispatch("READY", self._ready())
                await self.dispatch("GUILD_CREATE", self._guild())
            elif payload["op"] == 6:
                self.resumes += 1
                for event, data in self.replay:
                    await self.dispatch(event, data)
                self.replay = []
                await self.dispatch("RESUMED", {})
        return ws

    def _ready(self) -> dict[str, Any]:
        return {
            "v": 10, "user": user(BOT, "mentor", bot=True) | {"verified": True, "mfa_enabled": False, "flags": 0},
            "guilds": [{"id": str(GUILD), "unavailable": True}], "session_id": "session-1",
            "resume_gateway_url": self.gateway_url, "shard": [0, 1], "application": {"id": str(APP), "flags": 0},
            "private_channels": [], "relationships": [],
        }

    def _guild(self) -> dict[str, Any]:
        return {
            "id": str(GUILD), "name": "CS101", "icon": None, "splash": None, "discovery_splash": None, "banner": None,
            "description": None, "owner_id": str(TEACHER), "afk_channel_id": None, "afk_timeout": 300,
            "verification_level": 0, "default_message_notifications": 0, "explicit_content_filter": 0, "mfa_level": 0,
            "nsfw_level": 0, "features": [], "premium_tier": 0, "premium_subscription_count": 0,
            "preferred_locale": "en-US", "system_channel_id": None, "system_channel_flags": 0, "rules_channel_id": None,
            "public_updates_channel_id": None, "vanity_url_code": None, "application_id": None, "max_members": 500000,
            "premium_progress_bar_enabled": False, "joined_at": NOW, "large": False, "unavailable": False,
            "member_count": 3, "roles": [role(GUILD, "@everyone"), role(TA_ROLE, "TA"), role(BOT_ROLE, "mentor", bot_id=BOT)],
            "emojis": [], "stickers": [], "members": [member(BOT, "mentor", [BOT_ROLE], bot=True)],
            "channels": [text_channel(CHANNEL), forum_channel(FORUM, "help", FORUM_PERMISSIONS), forum_channel(LOCKED_FORUM, "locked"),
                         text_channel(TA_QUEUE) | {"name": "ta-queue", "permission_overwrites": [
                             {"id": str(BOT_ROLE), "type": 0, "allow": str(QUEUE_PERMISSIONS), "deny": "0"}]}],
            "threads": [thread(THREAD, CHANNEL, "loops")], "voice_states": [],
            "presences": [], "stage_instances": [], "guild_scheduled_events": [], "soundboard_sounds": [],
        }

    # REST ------------------------------------------------------------------------

    async def _file(self, request: web.Request) -> web.Response:
        self.downloads.append(request.path)
        data = self.files.get(request.path)
        return web.Response(body=data) if data is not None else web.Response(status=404)

    async def _rest(self, request: web.Request) -> web.Response:
        path = "/" + request.match_info["tail"]
        body = await request.json() if request.can_read_body and request.content_type == "application/json" else None
        self.calls.append(Call(request.method, path, dict(request.query), body))
        for n, (method, suffix, status, error, times) in enumerate(self.failures):
            if method == request.method and path.endswith(suffix):
                self.failures[n] = (method, suffix, status, error, times - 1)
                if times - 1 == 0:
                    del self.failures[n]
                # discord.py treats a 429 without `Via` as a Cloudflare ban, not a rate limit.
                return _json(error, status, {"Via": "1.1 google"} if status == 429 else {})
        return self._answer(request.method, path, body)

    def _answer(self, method: str, path: str, body: Any) -> web.Response:
        parts = path.strip("/").split("/")
        if path == "/users/@me":
            return _json(user(BOT, "mentor", bot=True) | {"verified": True, "mfa_enabled": False, "flags": 0})
        if path == "/oauth2/applications/@me":
            return _json({"id": str(APP), "name": "mentor", "icon": None, "description": "", "rpc_origins": [],
                          "bot_public": True, "bot_require_code_grant": False, "owner": user(TEACHER, "teacher"),
                          "summary": "", "verify_key": "00", "team": None, "flags": 0})
        if parts[0] == "applications" and method == "PUT":
            return _json([c | {"id": str(snowflake()), "application_id": str(APP), "version": "1", "type": c.get("type", 1),
                               "default_member_permissions": None, "dm_permission": True, "nsfw": False} for c in body])
        if parts[0] == "channels" and parts[-1] == "typing":
            return web.Response(status=204)
        if parts[0] == "channels" and parts[-1] == "threads":
            return _json(thread(int(parts[3]), int(parts[1]), body["name"]), 201)
        if parts[0] == "channels" and "reactions" in parts:
            return web.Response(status=204)
        if parts[0] == "channels" and len(parts) == 4 and parts[2] == "messages" and method == "PATCH":
            edited = message(int(parts[1]), user(BOT, "mentor", True), (body or {}).get("content", ""), mid=int(parts[3]))
            return _json(edited | {"components": (body or {}).get("components") or []})
        if parts[0] == "channels" and len(parts) == 4 and parts[2] == "messages" and method == "GET":
            known = [m for m in self.history.get(int(parts[1]), []) + self.created.get(int(parts[1]), []) if m["id"] == parts[3]]
            return _json(known[0]) if known else _json({"message": "Unknown Message", "code": 10008}, 404)
        if parts[0] == "channels" and parts[-1] == "messages":
            channel = int(parts[1])
            if method == "GET":
                return _json(self.history.get(channel, []))
            sent = message(channel, user(BOT, "mentor", True), body.get("content", "")) | {"components": body.get("components") or []}
            self.created.setdefault(channel, []).append(sent)
            return _json(sent)
        if parts[0] == "interactions":
            kind = body["type"]
            return _json({"interaction": {"id": parts[1], "type": 2, "response_message_loading": kind == 5,
                                          "response_message_ephemeral": bool(body.get("data", {}).get("flags", 0) & 64)},
                          "resource": {"type": kind}})
        if parts[0] == "webhooks":
            return _json(message(CHANNEL, user(APP, "mentor", True), (body or {}).get("content", "")) | {"webhook_id": str(APP)})
        return _json({"message": "404: Not Found", "code": 0}, 404)


def _json(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    # discord.py reads a body as JSON only when the content type is exactly application/json.
    return web.Response(body=json.dumps(data).encode(), status=status, content_type="application/json", headers=headers)
