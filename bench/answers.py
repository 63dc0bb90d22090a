"""Answers on the shared eval course with the packaged SmolLM2 on this CPU.

Prints, in one run:
1. the grounding calibration over all eval questions (no model needed, `bench.declines`):
   for each lexical weight, the highest-scoring unanswerable question and the
   lowest-scoring answerable one; then the decline rates at the configured threshold
   on those questions (in-sample) and on the held-out ones (out-of-sample);
2. for 20 questions (15 answerable, the 5 unanswerable): p50/p95 time to first token
   and total time, split into retrieval and generation; the share of answerable
   questions whose citations include the gold page or section; the share of
   unanswerable ones declined;
3. the event loop's largest stall while 5 questions are answered at once through
   `AnswerService`, beside the stall when one question is answered on the loop itself.

    .venv/bin/python -m bench.answers [--questions 20]
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from pathlib import Path

from bench.declines import report_declines
from bench.evalset import COURSE_DIR, EvalQuestion, load_questions
from bench.stats import percentile
from bot.app import MentorApp
from bot.config.sections import AnswerSettings, LlmSettings
from bot.config.settings import Settings
from bot.ops.logs import configure_logging
from bot.service.answering import AnswerService
from models import Answer, Course, Question


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--questions", type=int, default=20)
    args = parser.parse_args()
    configure_logging()
    questions = load_questions()
    with tempfile.TemporaryDirectory() as data_dir:
        settings = Settings(
            data_dir=Path(data_dir),
            courses=[Course(name="eval", sources=(COURSE_DIR,))],
            llm=LlmSettings(temperature=0.0),
            answer=AnswerSettings(mode="generate"),  # it measures the model; quote mode has bench.quote_mode
        )
        mentor = MentorApp(settings)
        mentor.embedder.warm_up()
        mentor.ingest("eval")
        report_declines(mentor, questions)
        unanswerable = [q for q in questions if not q.answerable]
        chosen = [q for q in questions if q.answerable][: max(args.questions - len(unanswerable), 0)] + unanswerable
        _answers(mentor, chosen)
        asyncio.run(_stalls(mentor, [q for q in questions if q.answerable][:5]))
        mentor.close()


def _answers(mentor: MentorApp, questions: list[EvalQuestion]) -> None:
    rows: list[tuple[EvalQuestion, Answer, float]] = []
    for question in questions:
        started = time.perf_counter()
        answer = mentor.ask(Question(text=question.question, course="eval"))
        rows.append((question, answer, (time.perf_counter() - started) * 1000))
    generated = [(q, a, total) for q, a, total in rows if a.kind == "answer"]
    print(f"{len(rows)} questions with {mentor.language_model.name} (temperature 0), {len(generated)} sent to the model")
    _percentiles("retrieval", [a.timings.retrieve_ms for _, a, _ in rows])
    _percentiles("time to first token", [a.timings.retrieve_ms + (a.timings.first_token_ms or 0) for _, a, _ in generated])
    _percentiles("generation", [a.timings.generate_ms for _, a, _ in generated])
    _percentiles("total", [total for _, _, total in generated])

    answerable = [(q, a) for q, a, _ in rows if q.answerable]
    cited = sum(any(q.points_at(c.source, c.page, c.anchor) for c in a.citations) for q, a in answerable)
    marked = sum(any(not c.see_also for c in a.citations) for _, a in answerable if a.kind == "answer")
    unanswerable = [(q, a) for q, a, _ in rows if not q.answerable]
    declined = sum(a.kind == "not_covered" for _, a in unanswerable)
    print(f"answerable whose citations include the gold page or section: {cited}/{len(answerable)} = "
          f"{cited / len(answerable):.2f} (target >= 0.85)")
    print(f"  of which the model wrote [n] markers itself in {marked}; every answer carries the best pages it did not cite "
          f"(up to three) as 'see also'")
    print(f"unanswerable declined (in-sample: they chose the threshold): {declined}/{len(unanswerable)} = "
          f"{declined / max(len(unanswerable), 1):.2f} (target >= 0.8)\n")


async def _stalls(mentor: MentorApp, questions: list[EvalQuestion]) -> None:
    service = AnswerService(mentor, mentor.offloader)
    asks = [Question(text=q.question, course="eval") for q in questions]

    async def offloaded() -> None:
        await asyncio.gather(*(service.answer(q) for q in asks))

    async def on_the_loop() -> None:
        mentor.ask(asks[0])

    offloaded_stall, offloaded_s = await _largest_stall(offloaded())
    blocking_stall, blocking_s = await _largest_stall(on_the_loop())
    print(f"event loop's largest stall, {len(asks)} questions at once through AnswerService: "
          f"{offloaded_stall:.1f} ms over {offloaded_s:.1f} s (target <= 50 ms)")
    print(f"baseline, 1 question answered on the loop itself: {blocking_stall:.0f} ms "
          f"({blocking_stall / max(offloaded_stall, 0.001):.0f}x the offloaded stall)")


async def _largest_stall(work: object) -> tuple[float, float]:
    """The longest a 5 ms timer was late while `work` ran, in ms, and how long the work took."""
    done = asyncio.Event()
    worst = 0.0

    async def ticker() -> None:
        nonlocal worst
        while not done.is_set():
            started = time.perf_counter()
            await asyncio.sleep(0.005)
            worst = max(worst, (time.perf_counter() - started - 0.005) * 1000)

    ticking = asyncio.create_task(ticker())
    await asyncio.sleep(0.02)
    started = time.perf_counter()
    await work  # type: ignore[misc]
    elapsed = time.perf_counter() - started
    done.set()
    await ticking
    return worst, elapsed


def _percentiles(label: str, values: list[float]) -> None:
    if not values:
        print(f"  {label:<22} no samples")
        return
    print(f"  {label:<22} p50 {percentile(values, 0.5):8.0f} ms   p95 {percentile(values, 0.95):8.0f} ms")


if __name__ == "__main__":
    main()
