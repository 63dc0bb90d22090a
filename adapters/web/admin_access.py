"""Who may use the instructor's page: with `web.admin_token` set, whoever shows the token
(a bearer header, or `?token=` on what a browser loads by URL); without one, only a
request from this machine, and never one that came through a proxy."""

from __future__ import annotations

import hmac
import ipaddress
from dataclasses import dataclass
from typing import Literal

from aiohttp import web

FORWARDING_HEADERS = ("Forwarded", "X-Forwarded-For", "X-Real-IP")
"""A proxy on this machine makes every request look local: with these, a request is not."""

NEEDS_TOKEN = (
    "The instructor's page needs the admin token: open /admin?token=<token> or send "
    "'Authorization: Bearer <token>', with the token set in MENTOR_WEB__ADMIN_TOKEN."
)
WRONG_TOKEN = "That is not the admin token: use the one set in MENTOR_WEB__ADMIN_TOKEN."
LOCAL_ONLY = (
    "The instructor's page answers only this machine (127.0.0.1) while no admin token is set: "
    "set MENTOR_WEB__ADMIN_TOKEN to open it from elsewhere."
)

Access = Literal["page", "asset", "api"]
"""`?token=` is accepted on what a browser loads by URL (the page, its assets, the progress
stream); the JSON API takes the bearer header only."""


@dataclass(frozen=True)
class Refusal:
    status: int
    message: str


def access_refusal(token: bytes | None, request: web.Request, access: Access) -> Refusal | None:
    """Why `request` may not have what it asks for; None when it may."""
    if token is None:
        return None if is_local(request) else Refusal(403, LOCAL_ONLY)
    offered = bearer(request)
    if offered is None and access != "api":
        offered = request.query.get("token")
    if offered is None:
        return Refusal(401, NEEDS_TOKEN)
    if not hmac.compare_digest(offered.encode(), token):
        return Refusal(401, WRONG_TOKEN)
    return None


def bearer(request: web.Request) -> str | None:
    scheme, _, value = request.headers.get("Authorization", "").partition(" ")
    return value.strip() if scheme.lower() == "bearer" and value.strip() else None


def is_local(request: web.Request) -> bool:
    if any(header in request.headers for header in FORWARDING_HEADERS):
        return False
    try:
        address = ipaddress.ip_address((request.remote or "").split("%")[0])
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return address.is_loopback
