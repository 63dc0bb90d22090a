"""`mentor history`, `feedback`, `escalations` and `report`: what was done and asked, for the instructor."""

from __future__ import annotations

import json
from typing import Annotated, Optional

import typer
from rich.markup import escape

from bot.console import open_mentor, out
from bot.service.escalation import escalation_json, waited_s
from bot.service.notices import age, took_s
from bot.service.reindex import ReindexService
from bot.service.repeats import RepeatFinder


def history(
    ctx: typer.Context,
    course: Annotated[Optional[str], typer.Option("--course", "-c", help="Only this course.")] = None,
    limit: Annotated[int, typer.Option("--limit", "-n", min=1, max=1000, help="How many runs.")] = 20,
    json_output: Annotated[bool, typer.Option("--json", help="Print as JSON.")] = False,
) -> None:
    """The latest reindex runs: trigger, who, when, how long, what changed, how it ended."""
    with open_mentor(ctx) as mentor:
        if course is not None:
            mentor.course(course)
        runs = ReindexService(mentor).history.runs(course, limit)
    if json_output:
        print(json.dumps([run.to_json() for run in runs], indent=2))
        return
    if not runs:
        out.print("no reindex runs yet")
    for run in runs:
        out.print(f"#{run.id} {escape(run.course)} {escape(f'[{run.outcome}]')} {escape(run.summary())}", soft_wrap=True)


def feedback(
    ctx: typer.Context,
    course: Annotated[Optional[str], typer.Option("--course", "-c", help="Only this course.")] = None,
    limit: Annotated[int, typer.Option("--limit", "-n", min=1, max=10000, help="How many votes.")] = 100,
    json_output: Annotated[bool, typer.Option("--json", help="Print as JSON.")] = False,
) -> None:
    """Votes on answers (👍/👎 from the web page, Slack and Discord reactions), newest first."""
    with open_mentor(ctx) as mentor:
        if course is not None:
            mentor.course(course)
        votes = mentor.question_log.feedback(course, limit)
    if json_output:
        print(json.dumps([vote.to_json() for vote in votes], indent=2, ensure_ascii=False))
        return
    if not votes:
        out.print("no feedback yet")
    for vote in votes:
        sources = ", ".join(c.label for c in vote.question.citations) or "no sources"
        out.print(
            f"{vote.at:%Y-%m-%d %H:%M} {'+1' if vote.vote > 0 else '-1'} {escape(vote.platform)} "
            f"{escape(vote.question.course)}: {escape(vote.question.text)}  [dim]({escape(sources)})[/]",
            soft_wrap=True,
        )


def escalations(
    ctx: typer.Context,
    course: Annotated[Optional[str], typer.Option("--course", "-c", help="Only this course.")] = None,
    json_output: Annotated[bool, typer.Option("--json", help="Print as JSON.")] = False,
    answered: Annotated[bool, typer.Option("--answered", help="The questions TAs answered instead, newest first, with the time each took.")] = False,
) -> None:
    """Questions waiting in the TA queues, oldest first, with how long each has waited."""
    with open_mentor(ctx) as mentor:
        if course is not None:
            mentor.course(course)
        waiting = mentor.escalations.answered_ones(course) if answered else mentor.escalations.open_ones(course)
    if json_output:
        print(json.dumps([escalation_json(e) for e in waiting], indent=2, ensure_ascii=False))
        return
    if not waiting:
        out.print("no answered escalations" if answered else "no open escalations")
    if answered:
        for escalation in waiting:
            took = "time to the student not recorded" if escalation.human_answer_s is None else f"reached the student in {took_s(escalation.human_answer_s)}"
            out.print(
                f"#{escalation.id} {escape(escalation.course)} answered by {escape(escalation.answered_by or '?')}, {took}: {escape(escalation.question)}",
                soft_wrap=True,
            )
        return
    for escalation in waiting:
        out.print(
            f"#{escalation.id} {escape(escalation.course)} waiting {age(waited_s(escalation))} "
            f"({escape(escalation.place.platform)}, {escape(escalation.student)}): {escape(escalation.question)}",
            soft_wrap=True,
        )


def report(
    ctx: typer.Context,
    course: Annotated[Optional[str], typer.Option("--course", "-c", help="Only this course.")] = None,
    weeks: Annotated[int, typer.Option("--weeks", "-w", min=1, max=52, help="How far back.")] = 4,
    json_output: Annotated[bool, typer.Option("--json", help="Print as JSON.")] = False,
) -> None:
    """The questions students keep asking, grouped by meaning, with the pages they were answered from."""
    with open_mentor(ctx) as mentor:
        if course is not None:
            mentor.course(course)
        clusters = RepeatFinder(mentor.embedder, mentor.question_log, mentor.settings.answer).clusters(course, weeks)
    if json_output:
        print(json.dumps([cluster.to_json() for cluster in clusters], indent=2, ensure_ascii=False))
        return
    if not clusters:
        out.print(f"no question was asked twice in the last {weeks} weeks")
    for cluster in clusters:
        pages = ", ".join(f"{label} ({cited})" for label, cited in cluster.pages) or "no sources"
        out.print(f"{cluster.count}x {escape(cluster.course)}: {escape(cluster.question)}  [dim](last {cluster.last_asked:%Y-%m-%d}; {escape(pages)})[/]", soft_wrap=True)
        for wording in cluster.wordings[1:]:
            out.print(f"    also: {escape(wording)}", soft_wrap=True)
