"""The admin API on the wire: JSON that cannot turn into markup, server-sent events, and the
query and body values its routes read."""

from __future__ import annotations

import json

from aiohttp import web

from bot.store.question_log import AskedQuestion

API_HEADERS = {"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"}
DEFAULT_LIMIT, MAX_LIMIT = 50, 500
MAX_REQUESTER_CHARS = 64


def limit_of(request: web.Request, default: int = DEFAULT_LIMIT, name: str = "limit") -> int:
    """A whole-number query parameter from 1 to MAX_LIMIT (`limit`, or another such as `weeks`)."""
    text = request.query.get(name)
    try:
        limit = int(text) if text else default
    except ValueError:
        limit = 0
    if not 1 <= limit <= MAX_LIMIT:
        raise web.HTTPBadRequest(
            text=json.dumps({"error": f"{name} is a number from 1 to {MAX_LIMIT}."}), content_type="application/json", headers=API_HEADERS
        )
    return limit


async def requester(request: web.Request) -> str:
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


def asked_json(question: AskedQuestion) -> dict[str, object]:
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


def dumps(data: object) -> str:
    """JSON with `<`, `>` and `&` escaped too, so no markup survives even where JSON is taken for HTML."""
    return json.dumps(data).replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def json_response(data: object, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    return web.json_response(data, status=status, headers=API_HEADERS | (headers or {}), dumps=dumps)


async def send_event(response: web.StreamResponse, event: str, data: dict[str, object]) -> None:
    await response.write(f"event: {event}\ndata: {dumps(data)}\n\n".encode())
