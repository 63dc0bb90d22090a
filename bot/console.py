"""What every `mentor` command shares: the two consoles, opening the application (a
user's error becomes one clear line and exit code 2, never a traceback), and printing
the core's results for a person."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import typer
from rich.console import Console
from rich.markup import escape

from bot.app import MentorApp
from bot.config.settings import load_settings
from bot.errors import BotError
from bot.ops.logs import apply_log_settings, secret_values
from bot.status import ModelStatus
from ingest.calendar import Scheduled, TermCalendar
from ingest.errors import IngestError
from models import Answer, IngestReport, SearchResult
from rag.errors import RagError

out = Console()
err = Console(stderr=True)

USER_ERRORS = (BotError, IngestError, RagError)


@contextmanager
def open_mentor(ctx: typer.Context) -> Iterator[MentorApp]:
    """The application for one command; a user's error becomes one clear line, not a traceback."""
    mentor: MentorApp | None = None
    try:
        overrides = {"config": ctx.obj["config"]} if ctx.obj["config"] else {}
        settings = load_settings(**overrides)
        # Only the long-running service logs at the configured level; one-off commands stay quiet.
        level = settings.log.level if ctx.command.name == "serve" or ctx.obj["verbose"] else ""
        apply_log_settings(level, settings.log.format, secret_values(settings), ctx.obj["verbose"])
        mentor = MentorApp(settings)
        yield mentor
    except USER_ERRORS as exc:
        err.print(f"[bold red]error:[/] {escape(str(exc))}")
        raise typer.Exit(2) from None
    finally:
        if mentor is not None:
            mentor.close()


def print_model(model: ModelStatus) -> None:
    on_server = model.location.startswith(("http://", "https://"))
    where = "GPU" if model.gpu_offload else "CPU" if model.gpu_offload is False else "server" if on_server else "not loaded"
    out.print(f"model: {escape(model.name)} ({where}) {escape(model.location)}", soft_wrap=True)
    if model.probe is not None and model.probe.ok:
        out.print(f"  [dim]trusted: a test process {escape(model.probe.detail)}[/]", soft_wrap=True)
    if model.problem:
        out.print(f"  [bold red]not ready:[/] {escape(model.problem)}  (answers quote the course materials instead; with answer.mode = generate, passages only)", soft_wrap=True)
    if model.warning:
        out.print(f"  [bold yellow]warning:[/] {escape(model.warning)}", soft_wrap=True)
    if model.demo:
        out.print(
            "  [bold yellow]this is the small demo model:[/] fine for trying things out, not for students. "
            "Fetch the production model with `mentor models download mistral-7b-instruct` and set "
            "llm.model = \"mistral-7b-instruct\".",
            soft_wrap=True,
        )


def print_citations(answer: Answer) -> None:
    """The cited sources, then the ones consulted but not cited under "See also", as the chat adapters show them."""
    for heading, see_also in (("Sources", False), ("See also", True)):
        group = [citation for citation in answer.citations if citation.see_also is see_also]
        if group:
            out.print(f"\n[bold]{heading}[/]")
        for citation in group:
            link = citation.url or citation.source
            out.print(f"  [{citation.n}] {escape(citation.label())}  [blue]{escape(link)}[/]", soft_wrap=True)


def print_report(report: IngestReport) -> None:
    out.print(escape(report.summary()))
    for failure in report.failed:
        out.print(f"  [red]failed[/] {escape(failure.source)}: {escape(failure.reason)}")
    if report.skipped:
        out.print(f"  skipped {len(report.skipped)} file(s) of a kind no loader reads: {escape(', '.join(report.skipped[:5]))}"
                  + (" …" if len(report.skipped) > 5 else ""))
    for source in report.rescheduled:
        out.print(f"  new release date for {escape(source)}")
    for warning in report.warnings:
        out.print(f"  [yellow]warning:[/] {escape(warning)}", soft_wrap=True)


def print_calendar(calendar: TermCalendar) -> None:
    """The term, oldest first: released files, then the next release, then the rest, in the course's zone."""
    out.print(f"[bold]{escape(calendar.course.name)}[/]  (times in {escape(calendar.course.timezone)}; now {calendar.now:%Y-%m-%d %H:%M})")
    out.print("  released:" if calendar.released else "  nothing released yet")
    for item in calendar.released:
        _print_scheduled(item, calendar)
    following = calendar.next_release
    if following is None:
        out.print("  everything is released")
    else:
        out.print(f"  [bold]next: {following[0]:%Y-%m-%d %H:%M}[/] ({len(following[1])} file(s)); upcoming:")
        for item in calendar.upcoming:
            _print_scheduled(item, calendar)
    for assignment in calendar.assignments:
        out.print(
            f"  assignment {escape(assignment.name)}: due {assignment.due.astimezone(calendar.course.zone):%Y-%m-%d %H:%M}, "
            f"{assignment.before} before, {assignment.after} after; now {assignment.mode_at(calendar.now)}",
            soft_wrap=True,
        )
    for exam in calendar.course.exams:
        zone = calendar.course.zone
        out.print(
            f"  exam {escape(exam.name)}: {exam.start.astimezone(zone):%Y-%m-%d %H:%M} to {exam.end.astimezone(zone):%Y-%m-%d %H:%M}, "
            f"answers {exam.answers}" + ("; [bold]open now[/]" if exam.covers(calendar.now) else ""),
            soft_wrap=True,
        )
    for problem in calendar.problems:
        out.print(f"  [yellow]warning:[/] {escape(problem)}", soft_wrap=True)


def _print_scheduled(item: Scheduled, calendar: TermCalendar) -> None:
    at = item.release.at
    when = f"{at.astimezone(calendar.course.zone):%Y-%m-%d %H:%M}" if at else "from the start  "
    out.print(f"    {when}  {escape(item.source)}  [dim]({escape(item.release.rule)})[/]", soft_wrap=True)


def print_result(result: SearchResult) -> None:
    out.print(f"[bold]{escape(result.query)}[/]")
    if not result.hits:
        out.print("  nothing found in the course materials")
    for rank, hit in enumerate(result.hits, 1):
        place = " › ".join(h for h in (hit.title, *hit.headings) if h)
        where = hit.locator.describe()
        out.print(f"  {rank}. {escape(place)}" + (f" ({escape(where)})" if where else "") + f"  [dim]{hit.score:.3f}[/]")
        out.print(f"     [blue]{escape(hit.url or hit.source)}[/]")
        snippet = " ".join(hit.text.split())
        out.print(f"     [dim]{escape(snippet[:160])}{'…' if len(snippet) > 160 else ''}[/]")
    out.print()
