"""A scripted day of the human loop: Discord students ask, a share is declined and escalated to
the Slack TA queue, and TAs answer after random delays, by "Edit and send" or "Answer in thread".

In one process, over the example course, with the real discord.py and slack-bolt against the
fake Discord and fake Slack, and the fake streaming LLM server for the questions the course
covers. TA delays are compressed (seconds, not hours): the latency that matters is the one the
service adds, from a TA's click to the answer in the student's thread.

    .venv/bin/python -m bench.escalation_day [--questions 40] [--declined 0.3] [--seed 1]

Reports the share of declined questions that reached their student as a human answer, the
median and p95 time from a TA's click to the student's thread, the median time from a question to
its human answer (the question log's record), and how many later questions, reworded from the
declined ones, were answered from verified answers (cited "TA answer, <date>") instead of being declined.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import tempfile
import time
from pathlib import Path
from statistics import median

from bench.fake_llm import FakeLLM
from bench.slack_burst import COURSE
from bench.stats import percentile
from bot.app import MentorApp
from bot.config.sections import AnswerSettings, LlmSettings
from bot.config.settings import Settings
from bot.ops.logs import configure_logging
from models import Course, EscalationPolicy
from rag.answerer import NOT_COVERED
from tests.adapters.escalation_helpers import QUEUE, Fakes, fakes, queue_reply, running
from tests.adapters.fake_discord import mention
from tests.adapters.fake_slack import block_action, event_body, view_submission

DECLINE = NOT_COVERED[:40]
COVERED = ["what does break do in a loop?", "how do I define a function?", "how do I open a file?", "what is a dictionary?"]
OFF_TOPIC = ["Who won the 1998 football world cup final?", "What is the best pizza topping in Naples?", "When does the campus gym open?"]


async def day(mentor: MentorApp, questions: int, declined_share: float, rng: random.Random) -> None:
    async with fakes() as fake, running(mentor, fake):
        asked = [rng.random() < declined_share for _ in range(questions)]
        threads: dict[int, bool] = {}
        texts: list[str] = []
        for n, off_topic in enumerate(asked):
            text = f"{rng.choice(OFF_TOPIC if off_topic else COVERED)} (#{n})"
            texts.append(text.split(" (#")[0])
            message = mention(text)
            threads[int(message["id"])] = off_topic
            await fake.discord.dispatch("MESSAGE_CREATE", message)
            await asyncio.sleep(rng.uniform(0.0, 0.2))
        def answered(thread: int) -> bool:
            return any(DECLINE in m["content"] or "Sources" in m["content"] or "See also" in m["content"] for m in fake.discord.created.get(thread, []))

        await _until(lambda: all(answered(thread) for thread in threads), 300)
        await asyncio.sleep(1.0)
        queued = [e for e in mentor.escalations.open_ones() if e.queue_ref]
        declined = sum(1 for t in threads if any(DECLINE in m["content"] for m in fake.discord.created[t]))
        assert len(queued) == declined, f"every declined question is queued ({len(queued)} of {declined})"

        latencies = await asyncio.gather(*(_ta_answers(fake, e, rng) for e in queued))
        delivered = [t for t in threads if any("Answer from a TA" in m["content"] for m in fake.discord.created[t])]
        print(f"questions: {questions}, declined: {declined} ({declined / questions:.0%}), queued: {len(queued)}")
        print(f"declined questions answered by a TA in the student's thread: {len(delivered)}/{declined} "
              f"({len(delivered) / max(1, declined):.0%})")
        if latencies:
            ms = [1000 * s for s in latencies]
            print(f"TA click -> student's thread: p50 {percentile(ms, 0.5):.0f} ms, p95 {percentile(ms, 0.95):.0f} ms, max {max(ms):.0f} ms")
        human = [q.human_answer_s for q in mentor.question_log.recent("cs101", 10_000) if q.human_answer_s is not None]
        if human:
            print(f"question -> human answer in the student's thread (question log): median {median(human):.1f} s over {len(human)}")
        await _later_questions(fake, mentor, sorted({q for q, off in zip(texts, asked) if off}))


async def _later_questions(fake: Fakes, mentor: MentorApp, declined: list[str]) -> None:
    """Each declined question asked again, reworded, after the TAs answered: answered from a verified answer, or declined again."""
    assert len(mentor.verified.newest_first("cs101")) > 0 or not declined, "the TAs' answers were kept before the later questions"
    threads = []
    for text in declined:
        message = mention(f"Please tell me: {text.split(' (#')[0].lower()}")
        threads.append(int(message["id"]))
        await fake.discord.dispatch("MESSAGE_CREATE", message)

    def reply(thread: int) -> str:
        return " ".join(m["content"] for m in fake.discord.created.get(thread, []))

    await _until(lambda: all(DECLINE in reply(t) or "Sources" in reply(t) or "See also" in reply(t) for t in threads), 300)
    from_verified = sum(1 for t in threads if "TA answer, " in reply(t))
    print(f"later questions answered from verified answers: {from_verified}/{len(threads)} "
          f"(declined again: {sum(1 for t in threads if DECLINE in reply(t))})")


async def _ta_answers(fake: Fakes, escalation, rng: random.Random) -> float:
    """One TA, after a random delay, by "Edit and send" or "Answer in thread"; seconds from the click to the student."""
    await asyncio.sleep(rng.uniform(0.0, 3.0))
    thread = int(escalation.place.channel)
    before = len(fake.discord.created.get(thread, []))
    ts = escalation.queue_ref.split(":")[1]
    if rng.random() < 0.5:
        await fake.slack.send_envelope("interactive", block_action("escalation_edit", str(escalation.id), message_ts=ts))
        view = await _until(lambda: _view_for(fake, escalation.id), 10)
        clicked = time.monotonic()
        await fake.slack.send_envelope("interactive", view_submission(view, {"answer": f"A TA's answer to #{escalation.id}"}))
    else:
        await fake.slack.send_envelope("interactive", block_action("escalation_thread", str(escalation.id), message_ts=ts))
        await asyncio.sleep(0.3)
        clicked = time.monotonic()
        reply = queue_reply(ts, f"A TA's answer to #{escalation.id}", reply_ts=f"{ts}{escalation.id}")
        await fake.slack.send_envelope("events_api", event_body(reply, f"EvTA{escalation.id}"))
    await _until(lambda: len(fake.discord.created.get(thread, [])) > before, 30, poll=0.002)
    return time.monotonic() - clicked


def _view_for(fake: Fakes, escalation_id: int) -> dict | None:
    for call in fake.slack.of("views.open"):
        view = call.args["view"]
        if view.get("private_metadata") == str(escalation_id):
            return view
    return None


async def _until(predicate, timeout: float, poll: float = 0.05):
    deadline = time.monotonic() + timeout
    while not (found := predicate()):
        if time.monotonic() > deadline:
            raise TimeoutError("the scripted day stalled")
        await asyncio.sleep(poll)
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--questions", type=int, default=40)
    parser.add_argument("--declined", type=float, default=0.3, help="Share of off-topic questions (declined by the course).")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    configure_logging()
    llm = FakeLLM(answer_seconds=0.2, slots=4).start()
    try:
        with tempfile.TemporaryDirectory() as data_dir:
            settings = Settings(
                data_dir=Path(data_dir),
                courses=[Course(name="cs101", sources=(COURSE,), escalation=EscalationPolicy(ta_queue=QUEUE))],
                llm=LlmSettings(base_url=llm.base_url, model="fake", parallel=4, max_tokens=64),
                answer=AnswerSettings(mode="generate", per_student_per_minute=0),
            )
            mentor = MentorApp(settings)
            report = mentor.ingest("cs101")
            assert report.chunks_written > 0, "the course was indexed before the day starts"
            try:
                asyncio.run(day(mentor, args.questions, args.declined, random.Random(args.seed)))
            finally:
                mentor.close()
    finally:
        llm.stop()


if __name__ == "__main__":
    main()
