"""`mentor verified …`: the TA answers the bot reuses; an edit or a delete reaches the index at once."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.markup import escape

from bot.console import open_mentor, out
from bot.errors import VerifiedAnswerError
from bot.service.verified import VerifiedAnswers

verified_app = typer.Typer(help="Verified answers: TAs' answers the bot cites for similar questions.", no_args_is_help=True)


@verified_app.command("list")
def verified_list(
    ctx: typer.Context,
    course: Annotated[Optional[str], typer.Option("--course", "-c", help="Only this course.")] = None,
    json_output: Annotated[bool, typer.Option("--json", help="Print as JSON.")] = False,
) -> None:
    """Verified answers, newest first."""
    with open_mentor(ctx) as mentor:
        if course is not None:
            mentor.course(course)
        kept = mentor.verified.newest_first(course)
    if json_output:
        print(json.dumps([verified.to_json() for verified in kept], indent=2, ensure_ascii=False))
        return
    if not kept:
        out.print("no verified answers yet")
    for verified in kept:
        by = f", {verified.ta}" if verified.ta else ""
        out.print(f"#{verified.id} {escape(verified.course)} ({escape(verified.label() + by)}): {escape(verified.question)}", soft_wrap=True)


@verified_app.command("show")
def verified_show(ctx: typer.Context, verified_id: Annotated[int, typer.Argument(help="The id `mentor verified list` shows.")]) -> None:
    """One verified answer: its question, its text and where it came from."""
    with open_mentor(ctx) as mentor:
        verified = VerifiedAnswers(mentor).get(verified_id)
    out.print(f"#{verified.id} {escape(verified.course)}: {escape(verified.label())}" + (f", answered by {escape(verified.ta)}" if verified.ta else ""))
    if verified.escalation_id is not None:
        out.print(f"  [dim]from escalation #{verified.escalation_id}" + (f", edited {verified.edited_at:%Y-%m-%d %H:%M}" if verified.edited_at else "") + "[/]")
    out.print(f"Question: {escape(verified.question)}", soft_wrap=True)
    out.print(f"Answer: {escape(verified.answer)}", soft_wrap=True)


@verified_app.command("edit")
def verified_edit(
    ctx: typer.Context,
    verified_id: Annotated[int, typer.Argument(help="The id `mentor verified list` shows.")],
    text: Annotated[Optional[str], typer.Option("--text", help="The new answer.")] = None,
    file: Annotated[Optional[Path], typer.Option("--file", help="A UTF-8 file holding the new answer.", exists=True, dir_okay=False)] = None,
) -> None:
    """Replace an answer's text; students' questions are answered from the new text from now on."""
    with open_mentor(ctx) as mentor:
        if (text is None) == (file is None):
            raise VerifiedAnswerError("Give the new answer with either --text or --file.")
        edited = VerifiedAnswers(mentor).edit(verified_id, text if text is not None else file.read_text(encoding="utf-8"))  # type: ignore[union-attr]
    out.print(f"#{edited.id} edited; the index serves the new text")


@verified_app.command("delete")
def verified_delete(ctx: typer.Context, verified_id: Annotated[int, typer.Argument(help="The id `mentor verified list` shows.")]) -> None:
    """Remove a verified answer from the list and the index."""
    with open_mentor(ctx) as mentor:
        deleted = VerifiedAnswers(mentor).delete(verified_id)
    out.print(f"#{deleted.id} deleted; it is no longer cited")
