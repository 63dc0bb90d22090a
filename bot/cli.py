"""The `mentor` command line: ingest a course, search it, see what the index holds."""

from __future__ import annotations

import asyncio
import getpass
import json
import sys
from pathlib import Path
from typing import Annotated, Optional

import httpx
import typer
from rich.markup import escape
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
)

from bot.cli_db import db_app
from bot.cli_log import escalations, feedback, history, report
from bot.cli_models import models_app
from bot.cli_verified import verified_app
from bot.console import (
    err,
    open_mentor,
    out,
    print_calendar,
    print_citations,
    print_model,
    print_report,
    print_result,
)
from bot.ops.http_site import local_url
from bot.ops.logs import configure_logging
from bot.serve import serve as run_service
from bot.service.notices import age
from bot.service.reindex import ReindexService
from models import Question, SearchMode
from rag.model_files import PACKAGED_DEMO

app = typer.Typer(help="AI Mentor: answers from the course materials, with links to the page it used.", no_args_is_help=True)
app.add_typer(models_app, name="models")
app.add_typer(db_app, name="db")
app.add_typer(verified_app, name="verified")


@app.callback()
def main(
    ctx: typer.Context,
    config: Annotated[Optional[Path], typer.Option("--config", help="Config file (default: mentor.toml, or MENTOR_CONFIG).")] = None,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Log what happens, for debugging.")] = False,
) -> None:
    configure_logging(verbose)
    ctx.obj = {"config": config, "verbose": verbose}


@app.command()
def ingest(
    ctx: typer.Context,
    path: Annotated[Optional[Path], typer.Argument(help="A folder of course materials; becomes the course's source.")] = None,
    course: Annotated[Optional[str], typer.Option("--course", "-c", help="Course name (default: the first configured, or 'default').")] = None,
    json_output: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
) -> None:
    """Bring a course's index up to date: new and changed files in, deleted files out."""
    with open_mentor(ctx) as mentor:
        if err.is_terminal and not json_output:
            with Progress(
                TextColumn("[bold]ingesting"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                TextColumn("{task.description}"), console=err, transient=True,
            ) as progress:
                task = progress.add_task("", total=None)

                def on_progress(done: int, total: int, source: str) -> None:
                    progress.update(task, completed=done, total=total, description=escape(source))

                report = mentor.ingest(course, path, on_progress)
        else:
            report = mentor.ingest(course, path)
    if json_output:
        out.print_json(report.model_dump_json())
    else:
        print_report(report)
    if report.failed:
        raise typer.Exit(1)


@app.command()
def search(
    ctx: typer.Context,
    question: Annotated[str, typer.Argument(help="The question; '-' reads one question per line from standard input.")],
    course: Annotated[Optional[str], typer.Option("--course", "-c", help="Course name.")] = None,
    k: Annotated[Optional[int], typer.Option("-k", min=1, max=100, help="How many pages or sections to show.")] = None,
    mode: Annotated[Optional[str], typer.Option("--mode", help="hybrid, dense or bm25 (default from settings).")] = None,
    json_output: Annotated[bool, typer.Option("--json", help="One JSON object per question.")] = False,
) -> None:
    """Find the pages and sections of the course materials that answer a question."""
    if mode not in (None, "hybrid", "dense", "bm25"):
        err.print(f"[bold red]error:[/] --mode must be hybrid, dense or bm25, not {escape(mode)!s}")
        raise typer.Exit(2)
    search_mode: SearchMode | None = mode  # type: ignore[assignment]
    questions = (line for line in sys.stdin if line.strip()) if question == "-" else iter([question])
    with open_mentor(ctx) as mentor:
        for text in questions:
            result = mentor.search(text, course, k, search_mode)
            if json_output:
                print(json.dumps(result.to_json(), ensure_ascii=False), flush=True)
            else:
                print_result(result)


@app.command()
def ask(
    ctx: typer.Context,
    question: Annotated[str, typer.Argument(help="The question, as a student would ask it.")],
    course: Annotated[Optional[str], typer.Option("--course", "-c", help="Course name.")] = None,
    json_output: Annotated[bool, typer.Option("--json", help="Print the answer as JSON.")] = False,
    stream: Annotated[bool, typer.Option("--stream", help="Print the answer as it is written.")] = False,
) -> None:
    """Answer a question from the course materials, citing the pages and sections it used."""
    with open_mentor(ctx) as mentor:
        shown: list[str] = []

        def on_text(text: str) -> None:
            previous = shown[-1] if shown else ""
            if text.startswith(previous):
                out.out(text[len(previous):], end="", highlight=False)
                shown.append(text)

        answer = mentor.ask(Question(text=question, course=course), on_text if stream and not json_output else None)
        demo = mentor.model_file is not None and mentor.model_file.is_demo
    if answer.notice:
        err.print(f"[bold yellow]warning:[/] {escape(answer.notice)}")
    if json_output:
        print(json.dumps(answer.to_json(), ensure_ascii=False, indent=2))
        return
    if shown:
        out.out(answer.text[len(shown[-1]):], highlight=False)
    else:
        out.out(answer.text, highlight=False)
    print_citations(answer)
    if answer.model and demo:
        out.print(f"[dim](written by the small demo model {PACKAGED_DEMO}; see README, \"Models\", for Mistral)[/]")
    elif answer.kind == "quote":
        out.print("[dim](quoted word for word from the course materials, no model wrote it; see README, \"Answer modes\")[/]")


@app.command()
def reindex(
    ctx: typer.Context,
    course: Annotated[Optional[str], typer.Option("--course", "-c", help="Course name (default: the first configured).")] = None,
    json_output: Annotated[bool, typer.Option("--json", help="Print the run as JSON.")] = False,
) -> None:
    """Re-ingest a course now, as the schedule and the chat slash commands do, and record the run."""
    with open_mentor(ctx) as mentor:
        record = ReindexService(mentor).reindex(course, "cli", getpass.getuser())
    if json_output:
        print(json.dumps(record.to_json(), indent=2))
    else:
        assert record.report is not None
        print_report(record.report)
    if record.report and record.report.failed:
        raise typer.Exit(1)


@app.command()
def calendar(
    ctx: typer.Context,
    course: Annotated[Optional[str], typer.Option("--course", "-c", help="Only this course (default: every course).")] = None,
    json_output: Annotated[bool, typer.Option("--json", help="Print as JSON.")] = False,
) -> None:
    """The term: which files are released, which come next and when (release dates, README)."""
    with open_mentor(ctx) as mentor:
        names = [mentor.course(course).name] if course else mentor.settings.course_names()
        calendars = [mentor.calendar(name) for name in names]
    if json_output:
        print(json.dumps([calendar.to_json() for calendar in calendars], indent=2, ensure_ascii=False))
        return
    for calendar in calendars:
        print_calendar(calendar)


for command in (history, feedback, escalations, report):
    app.command()(command)


@app.command()
def health(ctx: typer.Context) -> None:
    """Ask a running `mentor serve` whether it is healthy (exit 0) or not (exit 1): for Docker's HEALTHCHECK."""
    with open_mentor(ctx) as mentor:
        settings = mentor.settings.health
    url = local_url(settings.host, settings.port) + "/healthz"
    try:
        response = httpx.get(url, timeout=5.0)
        body = response.json()
    except (httpx.HTTPError, ValueError) as exc:
        err.print(f"[bold red]unhealthy:[/] no health answer from {escape(url)} ({escape(str(exc) or type(exc).__name__)}); is `mentor serve` running?")
        raise typer.Exit(1) from None
    print(json.dumps(body, indent=2))
    if response.status_code != 200:
        raise typer.Exit(1)


@app.command()
def serve(ctx: typer.Context) -> None:
    """Run the service: the platforms (Slack, Discord, the web page), the reindex schedule, health and metrics."""
    with open_mentor(ctx) as mentor:
        asyncio.run(run_service(mentor, lambda line: err.print(escape(line), soft_wrap=True)))


@app.command()
def status(
    ctx: typer.Context,
    json_output: Annotated[bool, typer.Option("--json", help="Print as JSON.")] = False,
) -> None:
    """Courses, documents, chunks, the last ingest, and where the index and the state live."""
    with open_mentor(ctx) as mentor:
        statuses = mentor.status()
        location = mentor.settings.milvus_uri_resolved
        engine = mentor.index.engine()
        model = mentor.model_status()
        reranker = mentor.reranker_status()
        state = mentor.database.shown_url
    if json_output:
        shown = {
            "index": location, "engine": engine, "state": state, "model": model.to_json(), "reranker": reranker.to_json(),
            "courses": [s.to_json() for s in statuses],
        }
        print(json.dumps(shown, indent=2))
        return
    out.print(f"index: {escape(location)} ({escape(engine)})")
    out.print(f"state: {escape(state)}")
    print_model(model)
    out.print(f"reranker: {escape(reranker.name)}")
    if reranker.problem:
        out.print(f"  [bold red]not ready:[/] {escape(reranker.problem)}  (search keeps the first stage's order)", soft_wrap=True)
    for s in statuses:
        out.print(f"\n[bold]{escape(s.course.name)}[/]  ({', '.join(escape(str(p)) for p in s.course.sources)})")
        out.print(f"  {s.documents} documents, {s.chunks} chunks in collection {s.collection}")
        if s.repository:
            out.print(f"  fetched from {escape(s.repository)}" + (f", branch {escape(s.course.branch)}" if s.course.branch else ""))
        if s.course.base_url:
            out.print(f"  links to {escape(s.course.base_url)}")
        if s.last_ingest_at and s.last_report:
            out.print(f"  last ingest {s.last_ingest_at:%Y-%m-%d %H:%M} UTC: {escape(s.last_report.summary())}")
        else:
            out.print(f"  never ingested: run `mentor ingest --course {escape(s.course.name)}`")
        if s.escalations_open:
            out.print(f"  {s.escalations_open} waiting for a TA, the oldest for {age(s.oldest_escalation_s or 0)} (`mentor escalations`)")
        if s.last_run:
            out.print(f"  last reindex #{s.last_run.id} {escape(f'[{s.last_run.outcome}]')} {escape(s.last_run.summary())}", soft_wrap=True)
        if s.running:
            out.print(f"  [bold]{escape(s.running.describe())}[/]", soft_wrap=True)
        if s.next_release:
            at, files = s.next_release
            out.print(f"  next release {at:%Y-%m-%d %H:%M %Z}: {len(files)} file(s), e.g. {escape(files[0])}  (`mentor calendar` shows the term)")
        for assignment, mode in s.assignment_modes():
            out.print(f"  assignment {escape(assignment.name)} (due {assignment.due:%Y-%m-%d %H:%M %Z}): answered with {mode} now")
        if s.next_run:
            out.print(f"  next scheduled reindex {s.next_run:%Y-%m-%d %H:%M %Z} ({escape(s.course.schedule)}, while `mentor serve` runs)")


if __name__ == "__main__":
    app()
