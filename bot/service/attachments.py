"""What becomes of files attached to a question: the one place that decides what is read.

An adapter lists the attachments (name, type, size, as the platform reports them) and
downloads on request, with its platform's credentials; this module says which are worth
downloading (text and code files within `attachments.max_bytes`; never an image nor a
file over the limit), reads them as UTF-8 and fits them into the question's length
limit. `bot.service.notices` words what the student is told about the rest.

A vision model would slot in at `triage`: an image would be wanted and read there.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from pathlib import PurePosixPath

from models import Attachment

Download = Callable[[Attachment], Awaitable[bytes | None]]
"""The adapter's download of one attachment: its bytes (at most `max_bytes + 1`), or None when the platform refused."""

TEXT_SUFFIXES = frozenset(
    ".txt .text .log .md .rst .csv .tsv .json .yaml .yml .toml .ini .cfg .conf .xml .html .htm .css .sql .tex "
    ".py .pyi .ipynb .r .c .h .cc .cpp .hpp .java .kt .js .mjs .ts .tsx .jsx .go .rs .rb .php .sh .bash .zsh .ps1 "
    ".m .jl .scala .swift .cs .hs .lua .pl .diff .patch .env.example".split()
)
TEXT_TYPES = frozenset({"application/json", "application/xml", "application/x-python", "application/javascript", "application/x-sh",
                        "application/x-yaml", "application/toml", "application/x-ipynb+json", "application/sql"})
FENCE = "```"


def is_text(attachment: Attachment) -> bool:
    """A text or code file, by its content type or (platforms often say `application/octet-stream`) its name."""
    kind = (attachment.content_type or "").split(";", 1)[0].strip().lower()
    return kind.startswith("text/") or kind in TEXT_TYPES or PurePosixPath(attachment.name.lower()).suffix in TEXT_SUFFIXES


def triage(attachment: Attachment, max_bytes: int) -> Attachment:
    """Decided before any download: the attachment marked `unread` with why, or left as it is (wanted)."""
    if attachment.size > max_bytes:
        return attachment.model_copy(update={"unread": "too_large"})
    if attachment.is_image:
        return attachment.model_copy(update={"unread": "image"})
    if not is_text(attachment):
        return attachment.model_copy(update={"unread": "not_text"})
    return attachment


def decode(attachment: Attachment, data: bytes | None, max_bytes: int) -> Attachment:
    """The downloaded bytes as text, or the attachment marked with why they could not be read."""
    if data is None:
        return attachment.model_copy(update={"unread": "unreadable"})
    if len(data) > max_bytes:  # the platform understated its size
        return attachment.model_copy(update={"unread": "too_large", "size": len(data)})
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return attachment.model_copy(update={"unread": "not_text"})
    if "\x00" in text:
        return attachment.model_copy(update={"unread": "not_text"})
    return attachment.model_copy(update={"text": text})


async def read_attachments(found: Sequence[Attachment], download: Download, max_bytes: int) -> tuple[Attachment, ...]:
    """Each attachment triaged, and those wanted downloaded and read, in order."""
    read: list[Attachment] = []
    for attachment in found:
        attachment = triage(attachment, max_bytes)
        if attachment.unread is None:
            attachment = decode(attachment, await download(attachment), max_bytes)
        read.append(attachment)
    return tuple(read)


@dataclass(frozen=True)
class Composed:
    """The question's text with the files read into it, and the attachments as they ended up."""

    text: str
    attachments: tuple[Attachment, ...]
    asked_nothing: bool
    """Nothing to answer but files that were not read (a screenshot alone): ask for the text instead."""


def compose(own_text: str, attachments: Sequence[Attachment], max_chars: int, title: str = "") -> Composed:
    """`title` (a forum post's), `own_text`, then each file read, fenced under its name, cut to keep
    the whole within `max_chars`. A title alone does not make a screenshot a question: what it
    shows is, so a post of a title and an image is asked for the text."""
    parts = [part.strip() for part in (title, own_text) if part.strip()]
    parts = ["\n".join(parts)] if parts else []
    used = len(parts[0]) if parts else 0
    kept: list[Attachment] = []
    for attachment in attachments:
        if attachment.text is None:
            kept.append(attachment)
            continue
        header = f"{attachment.name}:\n{FENCE}\n"
        room = max(0, max_chars - used - len(header) - len(FENCE) - 3)
        text = attachment.text.strip("\n")
        if len(text) > room:
            attachment = attachment.model_copy(update={"text": text[:room], "cut": True})
            text = text[:room]
        if text:
            block = f"{header}{text}\n{FENCE}"
            used += len(block) + (2 if parts else 0)
            parts.append(block)
        kept.append(attachment)
    read_any = any(attachment.text for attachment in kept)
    return Composed("\n\n".join(parts), tuple(kept), asked_nothing=not own_text.strip() and not read_any and bool(kept))
