"""`mentor serve`: the long-running process. It holds the index, runs the schedule and,
as the chat adapters land, the platforms, until SIGTERM or SIGINT."""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import Callable
from pathlib import Path

from bot.app import MentorApp
from bot.reindex import ReindexService
from bot.schedule import ReindexScheduler
from rag.index import is_local_uri
from rag.lite_server import SharedLiteServer

log = logging.getLogger(__name__)

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
    try:
        if lite is not None:
            announce(f"index: Milvus Lite {uri}, shared with other mentor commands at {lite.start()}")
        mentor.index.connect()
        model = mentor.model_status()
        announce(f"model: {model.name}" + (" (the small demo model: not for students)" if model.demo else ""))
        if model.problem:
            announce(f"model not ready, answers fall back to passages: {model.problem}")
        service = ReindexService(mentor)
        courses = [mentor.course(name) for name in mentor.settings.course_names()]
        if mentor.settings.reindex.enabled:
            scheduler = ReindexScheduler(service, courses, mentor.settings.reindex)
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
        # close() waits for in-flight answers and reindexes before the index closes under them.
        mentor.close()
        if lite is not None:
            lite.stop()
        announce("stopped")
