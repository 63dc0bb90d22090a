"""`mentor serve`: the long-running process. It holds the index, runs the schedule and,
as the chat adapters land, the platforms, until SIGTERM or SIGINT."""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import Callable
from pathlib import Path

from bot.app import MentorApp
from bot.chat import ChatCommands
from bot.platforms import ChatPlatform, configured_platforms
from bot.schedule import ReindexScheduler
from rag.index import is_local_uri
from rag.lite_server import SharedLiteServer

log = logging.getLogger(__name__)

STOP_TIMEOUT_S = 30.0
"""How long in-flight answers get to finish on SIGTERM before the platforms disconnect anyway."""

Announce = Callable[[str], None]


async def serve(mentor: MentorApp, announce: Announce, stop: asyncio.Event | None = None) -> None:
    """Run until `stop` is set (or a signal arrives), then shut down in order.

    A Milvus Lite database is served on loopback first, so `mentor ingest`, `reindex`
    and `status` from another shell reach the same index through this process.
    """
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    uri = mentor.settings.milvus_uri_resolved
    lite = SharedLiteServer(Path(uri)) if is_local_uri(uri) else None
    scheduler: ReindexScheduler | None = None
    started: list[ChatPlatform] = []
    try:
        if lite is not None:
            announce(f"index: Milvus Lite {uri}, shared with other mentor commands at {lite.start()}")
        mentor.index.connect()
        model = mentor.model_status()
        announce(f"model: {model.name}" + (" (the small demo model: not for students)" if model.demo else ""))
        if model.problem:
            announce(f"model not ready, answers fall back to passages: {model.problem}")
        commands = ChatCommands(mentor)
        platforms = configured_platforms(mentor.settings, commands)
        if platforms and model.demo:
            announce(
                "WARNING: students will be answered by the small demo model. Fetch the production model: "
                "mentor models download mistral-7b-instruct, then set MENTOR_LLM__MODEL=mistral-7b-instruct"
            )
        for platform in platforms:
            await platform.start()
            started.append(platform)
            announce(f"{platform.name}: connected")
        courses = [mentor.course(name) for name in mentor.settings.course_names()]
        if mentor.settings.reindex.enabled:
            scheduler = ReindexScheduler(commands.reindexer, courses, mentor.settings.reindex)
            scheduler.sinks.extend(commands.report_sinks)
            scheduler.start()
            for course in courses:
                announce(f"course {course.name}: next reindex {scheduler.next_run(course.name):%Y-%m-%d %H:%M %Z}")
        announce("serving; stop with Ctrl-C or SIGTERM")
        await stop.wait()
    finally:
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(signum)
        if scheduler is not None:
            scheduler.shutdown()
        for platform in reversed(started):
            try:
                await asyncio.wait_for(platform.stop(), STOP_TIMEOUT_S)
            except Exception:  # one platform failing to stop (or timing out) must not keep the others up
                log.exception("%s did not stop cleanly", platform.name)
        # close() waits for in-flight answers and reindexes before the index closes under them.
        mentor.close()
        if lite is not None:
            lite.stop()
        announce("stopped")
