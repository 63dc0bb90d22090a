"""Has this event been answered already? In memory for one process, in Redis for several.

Slack redelivers an event it thinks was not acknowledged and a resumed Discord gateway
replays what it sent; each question must still get exactly one answer. One process can
remember the events it saw (`MemoryDeduper`), but replicas behind a load balancer need a
store they share (`RedisDeduper`), where a redelivery to another replica is still a repeat.
"""

from __future__ import annotations

import logging
import re
import secrets
import time
from collections import OrderedDict
from typing import Literal, Protocol
from urllib.parse import parse_qsl, unquote, urlsplit

from redis.asyncio import Redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import AuthenticationError, RedisError
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from bot.errors import ConfigError

log = logging.getLogger(__name__)

REDIS_SCHEMES = ("redis", "rediss", "unix")
URL_SETTING = "MENTOR_DEDUPE__REDIS_URL"

_UNAVAILABLE = (RedisError, OSError)
"""What a Redis call may raise when the server is down, slow, or refuses us; we answer anyway."""
_TIMEOUT_SECONDS = 2.0
"""Connect and per-command limit: a dead Redis costs an answer this much delay, not a stall."""
_WARN_EVERY_SECONDS = 60.0
_QUERY_PASSWORD = re.compile(r"(?i)(^|&)(password=)[^&]*")


class EventDeduper(Protocol):
    """Answers "first time we see this event?" for the adapters.

    Example::

        deduper = build_deduper("memory", None, 3600.0)
        if await deduper.first_time(f"slack:{event_id}"):
            ...  # answer it
        await deduper.close()
    """

    async def first_time(self, key: str) -> bool:
        """True the first time `key` is offered within the TTL, False for every repeat."""
        ...

    async def check(self) -> str | None:
        """None when the store works, else a short problem text (credentials redacted) for health."""
        ...

    async def close(self) -> None:
        """Release connections; the deduper is not used afterwards."""
        ...


class MemoryDeduper:
    """Recent event keys of this process only: right for one replica, no server needed.

    Bounded in size and age; only touched on the event loop, so it needs no lock.
    """

    def __init__(self, max_size: int = 10_000, ttl_seconds: float = 3600.0) -> None:
        self.max_size = max_size
        self.ttl_seconds = ttl_seconds
        self._seen: OrderedDict[str, float] = OrderedDict()

    async def first_time(self, key: str) -> bool:
        now = time.monotonic()
        while self._seen and (len(self._seen) >= self.max_size or next(iter(self._seen.values())) < now - self.ttl_seconds):
            self._seen.popitem(last=False)
        if key in self._seen:
            return False
        self._seen[key] = now
        return True

    async def check(self) -> str | None:
        return None

    async def close(self) -> None:
        self._seen.clear()


class RedisDeduper:
    """Event keys in a Redis that every replica shares, so a redelivery to any replica is a repeat.

    One `SET key 1 NX PX ttl` per event: atomic on the server, so of two replicas offered
    the same event at once exactly one wins. When Redis is down or slow the deduper fails
    open (a possible duplicate answer beats silence), warns at most once a minute, and
    picks up again on its own once Redis answers.
    """

    def __init__(self, url: str, ttl_seconds: float = 3600.0, key_prefix: str = "mentor:event:") -> None:
        self.redacted_url = redact_url(url)
        self.key_prefix = key_prefix
        self._ttl_ms = max(1, round(ttl_seconds * 1000))
        self._secrets = _url_secrets(url)
        # No retries by the client: a SET that reached the server before the connection broke
        # would, retried blindly, read as a repeat. `first_time` retries itself, with its token.
        self._client = Redis.from_url(
            url,
            socket_connect_timeout=_TIMEOUT_SECONDS,
            socket_timeout=_TIMEOUT_SECONDS,
            retry=Retry(NoBackoff(), 0),
        )
        self._warned_at: float | None = None
        self._outage_logged = False

    async def first_time(self, key: str) -> bool:
        """One `SET NX` with a token of this call's own, tried once more on a fresh connection when it
        fails: a connection pooled before a Redis restart is dead, and its first command fails.
        The token makes the retry safe: if the first try's SET landed and only its reply was lost,
        the key holds this call's token, so the event is still this call's to answer."""
        name, token = self.key_prefix + key, secrets.token_hex(8).encode()
        try:
            return await self._claim(name, token, retried=False)
        except _UNAVAILABLE:
            pass  # possibly a dead pooled connection: once more, on a fresh one
        try:
            return await self._claim(name, token, retried=True)
        except _UNAVAILABLE as exc:
            self._failed(exc)
            return True

    async def _claim(self, name: str, token: bytes, retried: bool) -> bool:
        claimed = bool(await self._client.set(name, token, nx=True, px=self._ttl_ms))
        if not claimed and retried:
            claimed = await self._client.get(name) == token
        self._answered()
        return claimed

    async def check(self) -> str | None:
        try:
            await self._client.ping()
        except _UNAVAILABLE as exc:
            return self._failed(exc)
        self._answered()
        return None

    async def close(self) -> None:
        await self._client.aclose()

    def _failed(self, exc: BaseException) -> str:
        reason = (str(exc) or type(exc).__name__).rstrip(".")
        for secret in self._secrets:
            reason = reason.replace(secret, "***")
        if isinstance(exc, AuthenticationError):
            what = "refuses the credentials"
        elif isinstance(exc, (RedisConnectionError, RedisTimeoutError, OSError)):
            what = "is unreachable"
        else:
            what = "failed"
        problem = f"Redis at {self.redacted_url} {what}: {reason}"
        now = time.monotonic()
        if self._warned_at is None or now - self._warned_at >= _WARN_EVERY_SECONDS:
            self._warned_at = now
            self._outage_logged = True
            log.warning(
                "%s. Every event is answered meanwhile, so a redelivered one may be answered twice. "
                "Check that Redis runs and that %s points at it with the right password.",
                problem,
                URL_SETTING,
            )
        return problem

    def _answered(self) -> None:
        if self._outage_logged:
            self._outage_logged = False
            log.info("Redis at %s answers again; repeated events are recognised again.", self.redacted_url)


def build_deduper(backend: Literal["memory", "redis"], redis_url: str | None, ttl_seconds: float) -> EventDeduper:
    """The deduper the settings ask for; a Redis URL that cannot work is refused here, at start."""
    if backend == "memory":
        return MemoryDeduper(ttl_seconds=ttl_seconds)
    if not redis_url:
        raise ConfigError(
            f'dedupe.backend is "redis" but no Redis URL is set: set {URL_SETTING} '
            "(e.g. redis://:password@redis-host:6379/0)."
        )
    scheme = urlsplit(redis_url).scheme.lower()
    if scheme not in REDIS_SCHEMES:
        raise ConfigError(
            f"{URL_SETTING} must start with redis://, rediss:// or unix:// (got {redact_url(redis_url)})."
        )
    try:
        return RedisDeduper(redis_url, ttl_seconds)
    except ValueError as exc:
        raise ConfigError(f"{URL_SETTING} is not a valid Redis URL ({redact_url(redis_url)}): {exc}") from None


def redact_url(url: str) -> str:
    """`url` with its password (and a lone user part, often a password too) replaced by `***`."""
    parts = urlsplit(url)
    netloc = parts.netloc
    if "@" in netloc:
        userinfo, _, host = netloc.rpartition("@")
        user, has_password, _ = userinfo.partition(":")
        netloc = f"{user}:***@{host}" if has_password else f"***@{host}"
    query = _QUERY_PASSWORD.sub(r"\1\2***", parts.query)
    return parts._replace(netloc=netloc, query=query).geturl()


def _url_secrets(url: str) -> list[str]:
    """The passwords in `url`, longest first, to scrub from error texts that might echo them."""
    parts = urlsplit(url)
    found = [parts.password] if parts.password else []
    found += [value for name, value in parse_qsl(parts.query) if name.lower() == "password"]
    return sorted({secret for raw in found for secret in (raw, unquote(raw))}, key=len, reverse=True)
