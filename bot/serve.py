"""`mentor serve`: the long-running process. It holds the index, runs the schedule, the
platforms and the operator's health and metrics endpoint, until SIGTERM or SIGINT."""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import Callable
from pathlib import Path

from bot.app import MentorApp
from bot.errors import ConfigError
from bot.ops.health import HealthServer, IndexWatch, ModelWatch, StateWatch
from bot.ops.metrics import Metrics
from bot.service.commands import ChatCommands
from bot.service.dedupe import build_deduper
from bot.service.digest import DigestScheduler
from bot.service.platforms import ChatPlatform, configured_platforms
from bot.service.schedule import ReindexScheduler
from bot.store.schedule_claims import ScheduleClaims
from rag.index import is_local_uri
from rag.lite_server import SharedLiteServer

log = logging.getLogger(__name__)

STOP_TIMEOUT_S = 30.0
"""How long a platform gets to deliver its last messages and disconnect, after the answers' grace."""

Announce = Callable[[str], None]

NO_PLATFORM = (
    "Nothing to serve: no chat platform is configured and the web page is turned off. Set MENTOR_SLACK__BOT_TOKEN "
    "(with MENTOR_SLACK__APP_TOKEN for Socket Mode), or MENTOR_DISCORD__TOKEN, or MENTOR_WEB__ENABLED=true "
    "(README: \"Connecting Slack\", \"Connecting Discord\")."
)
NO_CHAT_PLATFORM = (
    "No Slack or Discord token is set, so only the local web page runs. To reach students, set "
    "MENTOR_SLACK__BOT_TOKEN (and MENTOR_SLACK__APP_TOKEN) or MENTOR_DISCORD__TOKEN."
)


async def serve(mentor: MentorApp, announce: Announce, stop: asyncio.Event | None = None) -> None:
    """Run until `stop` is set (or a signal arrives), then shut down in order.

    A Milvus Lite database is served on loopback first, so `mentor ingest`, `reindex`
    and `status` from another shell reach the same index through this process.
    """
    stop = stop or asyncio.Event()
    settings = mentor.settings
    deduper = build_deduper(
        settings.dedupe.backend,
        settings.dedupe.redis_url.get_secret_value() if settings.dedupe.redis_url else None,
        settings.dedupe.ttl_seconds,
    )
    commands = ChatCommands(mentor, Metrics(), deduper)
    platforms = configured_platforms(settings, commands)
    if not platforms:
        raise ConfigError(NO_PLATFORM)
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    uri = settings.milvus_uri_resolved
    lite = SharedLiteServer(Path(uri)) if is_local_uri(uri) else None
    index_watch, model_watch, state_watch = IndexWatch(mentor, announce), ModelWatch(mentor), StateWatch(mentor, announce)
    health: HealthServer | None = None
    scheduler: ReindexScheduler | None = None
    digests: DigestScheduler | None = None
    started: list[ChatPlatform] = []
    try:
        if lite is not None:
            announce(f"index: Milvus Lite {uri}, shared with other mentor commands at {lite.start()}")
        announce(f"state: {mentor.database.shown_url}")
        await index_watch.start()
        await state_watch.start()
        model = await mentor.offloader.run(mentor.model_status)
        announce(f"model: {model.name}" + (" (the small demo model: not for students)" if model.demo else ""))
        if model.problem:
            announce(f"model not ready, answers fall back to passages: {model.problem}")
        if model.warning:
            announce(f"WARNING: {model.warning}")
        if settings.health.enabled:
            health = HealthServer(settings.health, commands.metrics, platforms, index_watch, model_watch, deduper, state_watch)
            await health.start()
            announce(f"health: {health.url}/healthz, metrics: {health.url}/metrics")
        await model_watch.load(model)
        chat_platforms = [platform.name for platform in platforms if platform.name != "web"]
        if chat_platforms and model.demo:
            announce(
                "WARNING: students will be answered by the small demo model. Fetch the production model: "
                "mentor models download mistral-7b-instruct, then set MENTOR_LLM__MODEL=mistral-7b-instruct"
            )
        if not chat_platforms:
            announce(NO_CHAT_PLATFORM)
        for platform in platforms:
            await platform.start()
            started.append(platform)
            announce(f"{platform.name}: {getattr(platform, 'url', None) or 'connected'}")
        courses = [mentor.course(name) for name in settings.course_names()]
        if settings.reindex.enabled:
            scheduler = ReindexScheduler(commands.reindexer, courses, settings.reindex, ScheduleClaims(mentor.database))
            scheduler.sinks.extend(commands.report_sinks)
            scheduler.start()
            for course in courses:
                announce(f"course {course.name}: next reindex {scheduler.next_run(course.name):%Y-%m-%d %H:%M %Z}")
        digests = DigestScheduler(mentor, commands.repeats, courses, ScheduleClaims(mentor.database))
        digests.sinks.extend(commands.digest_sinks)
        digests.start()
        announce("serving; stop with Ctrl-C or SIGTERM")
        await stop.wait()
    finally:
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(signum)
        if scheduler is not None:
            scheduler.shutdown()
        if digests is not None:
            digests.shutdown()
        if health is not None:
            await health.stop()
        # While the platforms are still connected: answers (and reindexes) in flight get the
        # grace, and the askers of any still running are told, by their platform, to ask again.
        grace = settings.serve.stop_grace_seconds
        if waiting := commands.answers.close():
            announce(f"stopping: {waiting} questions still waiting for their turn are told to ask again in a minute")
        if in_flight := mentor.offloader.admitted + mentor.offloader.reindexes.admitted:
            announce(f"stopping: {in_flight} answers or reindexes in flight get up to {grace:g} s to finish")
        if unfinished := await mentor.offloader.drain(grace):
            announce(f"{unfinished} did not finish within {grace:g} s; their askers are told to ask again in a minute")
        for platform in reversed(started):
            try:
                await asyncio.wait_for(platform.stop(), STOP_TIMEOUT_S)
            except Exception:  # one platform failing to stop (or timing out) must not keep the others up
                log.exception("%s did not stop cleanly", platform.name)
        await index_watch.stop()
        await state_watch.stop()
        await deduper.close()
        # Work given up on may still hold a thread: close() waits for it (to the same deadline) before the index closes.
        mentor.close()
        if lite is not None:
            lite.stop()
        announce("stopped")
