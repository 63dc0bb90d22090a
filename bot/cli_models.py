"""`mentor models …`: what is on disk, fetching the production model, probing the configured one."""

from __future__ import annotations

import json
import os
from typing import Annotated

import typer
from rich.markup import escape

from bot.console import err, open_mentor, out
from rag.errors import RagError
from rag.llama_cpp_model import check_loadable
from rag.model_files import CATALOG, PACKAGED_DEMO, download, packaged_demo_path, sidecar_path

models_app = typer.Typer(help="Language models: what is on disk, and fetching the production model.", no_args_is_help=True)


@models_app.command("list")
def models_list(ctx: typer.Context) -> None:
    """The models mentor knows, which are on disk, and which one is configured."""
    with open_mentor(ctx) as mentor:
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
    with open_mentor(ctx) as mentor:
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
    with open_mentor(ctx) as mentor:
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


def _packaged_state() -> str:
    try:
        return f"present: {packaged_demo_path()}"
    except RagError as exc:
        return str(exc)
