"""Who may use the instructor's page: with `web.admin_token` set, whoever shows the token
(a bearer header, or `?token=` on what a browser loads by URL); without one, only a
request from this machine, never one that came through a proxy, and only by a name of
this machine (a DNS-rebinding page reaches 127.0.0.1 under its own name).

Whatever the mode, a request that changes something is refused when a browser says it
comes from another site (`Origin`), so no web page can start a reindex from a visitor's browser."""

from __future__ import annotations

import hmac
import ipaddress
from dataclasses import dataclass
from typing import Literal
from urllib.parse import urlsplit

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

LOOPBACK_NAMES = frozenset({"localhost", "127.0.0.1", "::1"})
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
FOREIGN_HOST = (
    "The instructor's page does not answer to the name {host!r}: open it at http://127.0.0.1:<port>/admin, "
    "or add the name to MENTOR_WEB__ALLOWED_HOSTS."
)
FOREIGN_ORIGIN = "A page of another site ({origin}) cannot change anything here: use the instructor's page itself."

Access = Literal["page", "asset", "api"]
"""`?token=` is accepted on what a browser loads by URL (the page, its assets, the progress
stream); the JSON API takes the bearer header only."""


@dataclass(frozen=True)
class Refusal:
    status: int
    message: str


def access_refusal(token: bytes | None, hosts: frozenset[str], request: web.Request, access: Access) -> Refusal | None:
    """Why `request` may not have what it asks for; None when it may.

    `hosts`: the names the page answers to without a token (loopback names among them).
    """
    origin = request.headers.get("Origin")
    if request.method not in SAFE_METHODS and origin is not None and not _same_site(origin, request):
        return Refusal(403, FOREIGN_ORIGIN.format(origin=origin))
    if token is None:
        if not is_local(request):
            return Refusal(403, LOCAL_ONLY)
        host = request.headers.get("Host")
        return None if host is None or _name(host) in hosts else Refusal(403, FOREIGN_HOST.format(host=host))
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


def _name(host: str) -> str | None:
    """The name in a `Host` header, lowercased, without port or IPv6 brackets; None when it is not one."""
    try:
        return urlsplit(f"//{host}").hostname
    except ValueError:
        return None


def _same_site(origin: str, request: web.Request) -> bool:
    """The origin names the host and port this request was sent to (a proxy may change the scheme)."""
    try:
        netloc = urlsplit(origin).netloc.lower()
    except ValueError:
        return False
    return bool(netloc) and netloc == request.headers.get("Host", "").lower()
