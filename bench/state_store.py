"""The state database's cost: SQLite (the embedded default) beside PostgreSQL (what replicas share), in one run.

- Question-log writes as an answer makes them (the question, then the links from its
  messages), p50 and p95, on each store.
- The 200-mention Slack burst of `bench.load`, with `mentor serve` keeping its state in
  each store, so what a shared database costs a class shows beside the default.

PostgreSQL is a throwaway server from Debian's package (`tests/postgres_server.py`) on
loopback: no network between the bot and the database, which a real deployment adds.

    .venv/bin/python -m bench.state_store [--writes 500] [--mentions 200] [--students 200]
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import tempfile
import time
from pathlib import Path

from pydantic import SecretStr

from bench.fake_llm import FakeLLM
from bench.load import burst_settings, search_seconds, slack_burst_row
from bench.stats import percentile
from bot.app import MentorApp
from bot.store.database import Database
from bot.store.question_log import QuestionLog
from models import Answer, Citation, Question
from tests.conftest import free_port
from tests.postgres_server import PostgresServer


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--writes", type=int, default=500)
    parser.add_argument("--mentions", type=int, default=200, help="0: the writes only")
    parser.add_argument("--students", type=int, default=200)
    parser.add_argument("--answer-seconds", type=float, default=0.5)
    parser.add_argument("--parallel", type=int, default=4)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    postgres = PostgresServer.start(free_port())
    llm = FakeLLM(answer_seconds=args.answer_seconds, slots=args.parallel).start()
    try:
        with tempfile.TemporaryDirectory() as scratch:
            urls = {"SQLite": f"sqlite:///{Path(scratch) / 'writes.sqlite'}", "PostgreSQL": postgres.new_database()}
            print(f"question-log writes ({args.writes}: the question, then two message links)\n")
            print("| store | record p50 | record p95 | link p50 | link p95 |")
            print("|---|---|---|---|---|")
            for name, url in urls.items():
                print(f"| {name} | " + " | ".join(f"{ms:.2f} ms" for ms in _write_latencies(url, args.writes)) + " |", flush=True)

            if not args.mentions:
                return
            print(f"\nfake LLM: {args.answer_seconds} s an answer, {args.parallel} at once\n")
            print("| state | mentions at once | acknowledged within 3 s | answered | refused | silent | duplicates | time to drain | RSS before → after |")
            print("|---|---|---|---|---|---|---|---|---|")
            for name, database_url in (("SQLite", None), ("PostgreSQL", postgres.new_database())):
                data_dir = Path(scratch) / name
                settings = burst_settings(data_dir, llm, args.parallel)
                if database_url:
                    settings = settings.model_copy(update={"database_url": SecretStr(database_url)})
                ingesting = MentorApp(settings)
                ingesting.ingest("cs101")
                args.search_seconds = search_seconds(ingesting)
                ingesting.close()
                row = asyncio.run(slack_burst_row(settings, args.mentions, args.students, args))
                answered = QuestionLog(Database.open(settings.database_url_resolved)).recent(limit=10_000)
                print(f"| {name} ({len(answered)} logged) |" + row.show().removeprefix("|"), flush=True)
    finally:
        llm.stop()
        postgres.remove()


def _write_latencies(url: str, writes: int) -> list[float]:
    """p50 and p95 (ms) of `record`, then of `link_messages`, after 20 warm-up writes."""
    log = QuestionLog(Database.open(url))
    answer = Answer(text="…", citations=[Citation(n=1, title="Loops", source="loops.md", url="https://example.edu/loops.html")], grounded=True)
    record_ms, link_ms = [], []
    for n in range(writes + 20):
        question = Question(text=f"what does break do in a loop? ({n})", platform="slack", asker=f"U{n % 50}")
        started = time.perf_counter()
        question_id = log.record(question, "cs101", answer)
        recorded = time.perf_counter()
        log.link_messages(question_id, "slack", [f"C1:{n}.1", f"C1:{n}.2"])
        linked = time.perf_counter()
        if n >= 20:
            record_ms.append((recorded - started) * 1000)
            link_ms.append((linked - recorded) * 1000)
    log.engine.dispose()
    return [percentile(record_ms, 0.5), percentile(record_ms, 0.95), percentile(link_ms, 0.5), percentile(link_ms, 0.95)]


if __name__ == "__main__":
    main()
