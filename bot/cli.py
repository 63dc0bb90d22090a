"""The `mentor` command line: ingest a course, search it, see what the index holds."""

from __future__ import annotations

import asyncio
import getpass
import json
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Optional

import httpx
import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from bot.app import MentorApp, ModelStatus
from bot.errors import BotError
from bot.http_site import local_url
from bot.logs import apply_log_settings, configure_logging, secret_values
from bot.question_log import QuestionLog
from bot.reindex import ReindexService
from bot.serve import serve as run_service
from bot.settings import load_settings
from ingest.errors import IngestError
from models import Answer, IngestReport, Question, SearchMode, SearchResult
from rag.errors import RagError
from rag.llama_cpp_model import check_loadable
from rag.model_files import CATALOG, PACKAGED_DEMO, download, packaged_demo_path, sidecar_path

app = typer.Typer(help="AI Mentor: answers from the course materials, with links to the page it used.", no_args_is_help=True)
out = Console()
err = Console(stderr=True)

USER_ERRORS = (BotError, IngestError, RagError)

models_app = typer.Typer(help="Language models: what is on disk, and fetching the production model.", no_args_is_help=True)
app.add_typer(models_app, name="models")


@app.callback()
def main(
    ctx: typer.Context,
    config: Annotated[Optional[Path], typer.Option("--config", help="Config file (default: mentor.toml, or MENTOR_CONFIG).")] = None,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Log what happens, for debugging.")] = False,
) -> None:
    configure_logging(verbose)
    ctx.obj = {"config": config, "verbose": verbose}


@contextmanager
def _mentor(ctx: typer.Context) -> Iterator[MentorApp]:
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


@app.command()
def ingest(
    ctx: typer.Context,
    path: Annotated[Optional[Path], typer.Argument(help="A folder of course materials; becomes the course's source.")] = None,
    course: Annotated[Optional[str], typer.Option("--course", "-c", help="Course name (default: the first configured, or 'default').")] = None,
    json_output: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
) -> None:
    """Bring a course's index up to date: new and changed files in, deleted files out."""
    with _mentor(ctx) as mentor:
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
        _print_report(report)
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
    with _mentor(ctx) as mentor:
        for text in questions:
            result = mentor.search(text, course, k, search_mode)
            if json_output:
                print(json.dumps(result.to_json(), ensure_ascii=False), flush=True)
            else:
                _print_result(result)


@app.command()
def ask(
    ctx: typer.Context,
    question: Annotated[str, typer.Argument(help="The question, as a student would ask it.")],
    course: Annotated[Optional[str], typer.Option("--course", "-c", help="Course name.")] = None,
    json_output: Annotated[bool, typer.Option("--json", help="Print the answer as JSON.")] = False,
    stream: Annotated[bool, typer.Option("--stream", help="Print the answer as it is written.")] = False,
) -> None:
    """Answer a question from the course materials, citing the pages and sections it used."""
    with _mentor(ctx) as mentor:
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
    _print_citations(answer)
    if answer.model and demo:
        out.print(f"[dim](written by the small demo model {PACKAGED_DEMO}; see README, \"Models\", for Mistral)[/]")


@models_app.command("list")
def models_list(ctx: typer.Context) -> None:
    """The models mentor knows, which are on disk, and which one is configured."""
    with _mentor(ctx) as mentor:
        llm = mentor.settings.llm
        models_dir = mentor.settings.models_dir
    configured = llm.model or PACKAGED_DEMO
    if llm.base_url:
        out.print(f"configured: [bold]{escape(configured)}[/] on the server {escape(llm.base_url)}")
    rows = [(PACKAGED_DEMO, "packaged demo (SmolLM2-135M-Instruct, CPU, for trying things out)", _packaged_state())]
    for entry in CATALOG.values():
        path = models_dir / entry.filename
        state = (
            f"present, verified ({path.stat().st_size / 1e9:.1f} GB): {path}" if sidecar_path(path).exists() and path.exists()
            else f"not downloaded: mentor models download {entry.name}"
        )
        rows.append((entry.name, entry.description, state))
    for name, description, state in rows:
        mark = "*" if not llm.base_url and name == configured else " "
        out.print(f"{mark} [bold]{escape(name)}[/]  {escape(description)}\n    {escape(state)}", soft_wrap=True)
    if not llm.base_url and configured not in {row[0] for row in rows}:
        out.print(f"* [bold]{escape(configured)}[/]  a GGUF file named by llm.model")
    out.print("[dim]* = configured (llm.model)[/]")


@models_app.command("download")
def models_download(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help=f"One of: {', '.join(CATALOG)}.")],
) -> None:
    """Fetch a model into the data dir: resumable, verified against its size and sha256."""
    if name not in CATALOG:
        err.print(f"[bold red]error:[/] no model named {escape(name)!s}; choose one of: {', '.join(CATALOG)}")
        raise typer.Exit(2)
    entry = CATALOG[name]
    with _mentor(ctx) as mentor:
        models_dir = mentor.settings.models_dir
        err.print(f"fetching {entry.repo_id}/{entry.filename} into {escape(str(models_dir))}")
        path = download(entry, models_dir, endpoint=os.environ.get("HF_ENDPOINT"), progress=err.is_terminal)
    out.print(f"{escape(str(path))}: verified. Use it with llm.model = \"{name}\" (or MENTOR_LLM__MODEL={name}).")


@models_app.command("probe")
def models_probe(
    ctx: typer.Context,
    json_output: Annotated[bool, typer.Option("--json", help="Print the verdict as JSON.")] = False,
) -> None:
    """Load the configured model in a test process now, ignoring the kept verdict, and keep the new one.

    For after a rebuild of llama.cpp or a new model file: exit 0 when it may be loaded, 1 when not.
    """
    with _mentor(ctx) as mentor:
        model_file = mentor.model_file
        if model_file is None:
            err.print("the model runs on a server (llm.base_url): there is nothing to load here, so nothing to probe")
            raise typer.Exit(2)
        check_loadable(model_file.path, mentor.settings.llm.n_gpu_layers, model_file.fix_hint)
        verdict = mentor.model_probe.check(model_file.path, fresh=True)
    if json_output:
        print(json.dumps(verdict.to_json(), indent=2))
    elif problem := verdict.problem(model_file.path):
        err.print(f"[bold red]not trusted:[/] {escape(problem)}", soft_wrap=True)
    else:
        out.print(f"{escape(model_file.name)}: {escape(verdict.detail)}; it may be loaded here", soft_wrap=True)
    if not verdict.ok:
        raise typer.Exit(1)


@app.command()
def reindex(
    ctx: typer.Context,
    course: Annotated[Optional[str], typer.Option("--course", "-c", help="Course name (default: the first configured).")] = None,
    json_output: Annotated[bool, typer.Option("--json", help="Print the run as JSON.")] = False,
) -> None:
    """Re-ingest a course now, as the schedule and the chat slash commands do, and record the run."""
    with _mentor(ctx) as mentor:
        record = ReindexService(mentor).reindex(course, "cli", getpass.getuser())
    if json_output:
        print(json.dumps(record.to_json(), indent=2))
    else:
        assert record.report is not None
        _print_report(record.report)
    if record.report and record.report.failed:
        raise typer.Exit(1)


@app.command()
def history(
    ctx: typer.Context,
    course: Annotated[Optional[str], typer.Option("--course", "-c", help="Only this course.")] = None,
    limit: Annotated[int, typer.Option("--limit", "-n", min=1, max=1000, help="How many runs.")] = 20,
    json_output: Annotated[bool, typer.Option("--json", help="Print as JSON.")] = False,
) -> None:
    """The latest reindex runs: trigger, who, when, how long, what changed, how it ended."""
    with _mentor(ctx) as mentor:
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


@app.command()
def feedback(
    ctx: typer.Context,
    course: Annotated[Optional[str], typer.Option("--course", "-c", help="Only this course.")] = None,
    limit: Annotated[int, typer.Option("--limit", "-n", min=1, max=10000, help="How many votes.")] = 100,
    json_output: Annotated[bool, typer.Option("--json", help="Print as JSON.")] = False,
) -> None:
    """Votes on answers (👍/👎 from the web page, Slack and Discord reactions), newest first."""
    with _mentor(ctx) as mentor:
        if course is not None:
            mentor.course(course)
        votes = QuestionLog(mentor.settings.history_path).feedback(course, limit)
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


@app.command()
def health(ctx: typer.Context) -> None:
    """Ask a running `mentor serve` whether it is healthy (exit 0) or not (exit 1): for Docker's HEALTHCHECK."""
    with _mentor(ctx) as mentor:
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
    with _mentor(ctx) as mentor:
        asyncio.run(run_service(mentor, lambda line: err.print(escape(line), soft_wrap=True)))


@app.command()
def status(
    ctx: typer.Context,
    json_output: Annotated[bool, typer.Option("--json", help="Print as JSON.")] = False,
) -> None:
    """Courses, documents, chunks, the last ingest and where the index lives."""
    with _mentor(ctx) as mentor:
        statuses = mentor.status()
        location = mentor.settings.milvus_uri_resolved
        model = mentor.model_status()
    if json_output:
        print(json.dumps({"index": location, "model": model.to_json(), "courses": [s.to_json() for s in statuses]}, indent=2))
        return
    out.print(f"index: {escape(location)}")
    _print_model(model)
    for s in statuses:
        out.print(f"\n[bold]{escape(s.course.name)}[/]  ({', '.join(escape(str(p)) for p in s.course.sources)})")
        out.print(f"  {s.documents} documents, {s.chunks} chunks in collection {s.collection}")
        if s.course.base_url:
            out.print(f"  links to {escape(s.course.base_url)}")
        if s.last_ingest_at and s.last_report:
            out.print(f"  last ingest {s.last_ingest_at:%Y-%m-%d %H:%M} UTC: {escape(s.last_report.summary())}")
        else:
            out.print(f"  never ingested: run `mentor ingest --course {escape(s.course.name)}`")
        if s.last_run:
            out.print(f"  last reindex #{s.last_run.id} {escape(f'[{s.last_run.outcome}]')} {escape(s.last_run.summary())}", soft_wrap=True)
        if s.running:
            out.print(f"  [bold]{escape(s.running.describe())}[/]", soft_wrap=True)
        if s.next_run:
            out.print(f"  next scheduled reindex {s.next_run:%Y-%m-%d %H:%M %Z} ({escape(s.course.schedule)}, while `mentor serve` runs)")


def _print_model(model: ModelStatus) -> None:
    on_server = model.location.startswith(("http://", "https://"))
    where = "GPU" if model.gpu_offload else "CPU" if model.gpu_offload is False else "server" if on_server else "not loaded"
    out.print(f"model: {escape(model.name)} ({where}) {escape(model.location)}", soft_wrap=True)
    if model.probe is not None and model.probe.ok:
        out.print(f"  [dim]trusted: a test process {escape(model.probe.detail)}[/]", soft_wrap=True)
    if model.problem:
        out.print(f"  [bold red]not ready:[/] {escape(model.problem)}  (answers fall back to passages only)", soft_wrap=True)
    if model.warning:
        out.print(f"  [bold yellow]warning:[/] {escape(model.warning)}", soft_wrap=True)
    if model.demo:
        out.print(
            "  [bold yellow]this is the small demo model:[/] fine for trying things out, not for students. "
            "Fetch the production model with `mentor models download mistral-7b-instruct` and set "
            "llm.model = \"mistral-7b-instruct\".",
            soft_wrap=True,
        )


def _packaged_state() -> str:
    try:
        return f"present: {packaged_demo_path()}"
    except RagError as exc:
        return str(exc)


def _print_citations(answer: Answer) -> None:
    if not answer.citations:
        return
    out.print("\n[bold]Sources[/]" if not answer.citations[0].see_also else "\n[bold]See also[/]")
    for citation in answer.citations:
        link = citation.url or citation.source
        out.print(f"  [{citation.n}] {escape(citation.label())}  [blue]{escape(link)}[/]", soft_wrap=True)


def _print_report(report: IngestReport) -> None:
    out.print(escape(report.summary()))
    for failure in report.failed:
        out.print(f"  [red]failed[/] {escape(failure.source)}: {escape(failure.reason)}")
    if report.skipped:
        out.print(f"  skipped {len(report.skipped)} file(s) of a kind no loader reads: {escape(', '.join(report.skipped[:5]))}"
                  + (" …" if len(report.skipped) > 5 else ""))


def _print_result(result: SearchResult) -> None:
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


if __name__ == "__main__":
    app()
