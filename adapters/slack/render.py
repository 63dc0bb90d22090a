"""Answers as Slack messages: mrkdwn that cannot ping anyone, cut into blocks Slack accepts.

Pure functions, so what a student sees is tested without a network.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from bot.service.notices import ASK_TA_LABEL, asked_before
from models import Answer, Citation

SECTION_LIMIT = 3000
"""Slack refuses a section block whose text is longer."""
TEXT_LIMIT = 40_000
"""Slack cuts a message's `text` here."""
MAX_BLOCKS = 50
ONE_LINE_LIMIT = 300
FENCE = "```"
ZWJ = "\u200d"

_BROADCAST = re.compile(r"@(channel|here|everyone)\b", re.IGNORECASE)
_BOLD = re.compile(r"\*\*(?=\S)(.+?)(?<=\S)\*\*|__(?=\S)(.+?)(?<=\S)__")
_HEADING = re.compile(r"^#{1,6}\s+(.+?)\s*#*$", re.MULTILINE)
_SAFE_URL = re.compile(r"^https?://[^\s]+$")


@dataclass(frozen=True)
class SlackMessage:
    """What `chat.postMessage`, `chat.update` and `respond` take: `text` is the notification and fallback."""

    text: str
    blocks: list[dict[str, Any]] = field(default_factory=list)


def escape(text: str) -> str:
    """Slack's control characters escaped and bare broadcasts defused.

    With `<` escaped no `<!channel>`, `<!subteam^…>` or `<@U…>` survives; `@here` written
    plainly is broken with a zero-width joiner, so no client or `link_names` turns it into one.
    """
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return _BROADCAST.sub(lambda match: "@" + ZWJ + match.group(1), text)


def link(citation: Citation) -> str:
    """`<url|label>` when the course is published, else the plain label."""
    label = escape(citation.label())
    if citation.url and _SAFE_URL.match(citation.url):
        url = citation.url.replace("&", "&amp;").replace("<", "%3C").replace(">", "%3E").replace("|", "%7C")
        return f"<{url}|{label}>"
    return label


def render_answer(answer: Answer, preface: str | None = None) -> SlackMessage:
    """The answer in sections of at most 3,000 characters, then its sources; `preface` (what was
    not read of the attachments) first, as a context line."""
    body = [_format(paragraph) for paragraph in _paragraphs(answer.text)]
    if answer.asked_before is not None:
        body.insert(0, escape(asked_before(answer.asked_before)))
    label = "\n".join(line for line in (preface and f":paperclip: {escape(preface)}", _kind_label(answer)) if line) or None
    sources = _sources(answer.citations)
    blocks = [_section(chunk) for chunk in _pack(body)]
    if label:
        blocks.insert(0, {"type": "context", "elements": [{"type": "mrkdwn", "text": label, "verbatim": True}]})
    blocks += [_section(chunk) for chunk in _pack(sources)]
    if len(blocks) > MAX_BLOCKS:
        blocks = blocks[: MAX_BLOCKS - 1] + [_section("…the rest did not fit in one Slack message.")]
    text = "\n\n".join([*([label] if label else []), *body, *sources])
    return SlackMessage(_cut_text(text, TEXT_LIMIT), blocks)


def ask_ta_button(message: SlackMessage, action_id: str, value: str) -> SlackMessage:
    """The answer with an "Ask a TA" button under it (the last block, within Slack's 50)."""
    button = {"type": "button", "action_id": action_id, "value": value, "text": {"type": "plain_text", "text": ASK_TA_LABEL}}
    blocks = message.blocks[: MAX_BLOCKS - 1] + [{"type": "actions", "block_id": action_id, "elements": [button]}]
    return SlackMessage(message.text, blocks)


def render_partial(text: str) -> SlackMessage:
    """The answer as the model writes it: plain, one section's worth, marked as still coming."""
    return SlackMessage(_cut_text(escape(text), SECTION_LIMIT - 2) + " …")


def render_line(text: str, emoji: str = "") -> SlackMessage:
    """One line for the asker: an error, a refusal, a status; whitespace folded, length bounded."""
    line = _cut_text(" ".join(text.split()), ONE_LINE_LIMIT)
    return SlackMessage(f"{emoji} {escape(line)}".strip())


def render_text(text: str) -> SlackMessage:
    """Several lines of our own text (help, status), escaped."""
    return SlackMessage(_cut_text(escape(text), TEXT_LIMIT))


def split_sections(text: str, limit: int = SECTION_LIMIT) -> list[str]:
    """mrkdwn cut at paragraph or code-block boundaries into pieces of at most `limit`,
    every code fence closed in the piece that opened it."""
    return _pack([_format(paragraph) for paragraph in _paragraphs(text)], limit)


def _kind_label(answer: Answer) -> str | None:
    if answer.kind == "quote":
        return ":books: The course's own words, quoted: no model wrote this answer."
    if answer.kind == "retrieval_only":
        return ":page_facing_up: Passages from the course materials, not a written answer (the model is unavailable)."
    if answer.kind == "not_covered":
        return ":grey_question: Not covered by the course materials."
    return None


def _sources(citations: list[Citation]) -> list[str]:
    cited = [c for c in citations if not c.see_also]
    extra = [c for c in citations if c.see_also]
    return [
        f"*{title}*\n" + "\n".join(f"[{c.n}] {link(c)}" for c in group)
        for title, group in (("Sources", cited), ("See also", extra))
        if group
    ]


def _section(text: str) -> dict[str, Any]:
    # verbatim: Slack must not parse names or mentions out of text it did not write.
    return {"type": "section", "text": {"type": "mrkdwn", "text": text, "verbatim": True}}


def _paragraphs(text: str) -> Iterator[str]:
    """Paragraphs and whole code blocks; a fence the model left open (cut off at max_tokens) is closed."""
    lines: list[str] = []
    in_code = False
    for line in text.split("\n"):
        fence = line.strip().startswith(FENCE)
        if in_code:
            lines.append(FENCE if fence else line)
            if fence:
                yield "\n".join(lines)
                lines, in_code = [], False
        elif fence and line.strip().endswith(FENCE) and len(line.strip()) > 2 * len(FENCE):
            lines.append(line)
        elif fence:
            if lines:
                yield "\n".join(lines)
            # Slack shows a language hint as code, so it is dropped.
            lines, in_code = [FENCE], True
        elif line.strip():
            lines.append(line)
        elif lines:
            yield "\n".join(lines)
            lines = []
    if in_code:
        lines.append(FENCE)
    if lines:
        yield "\n".join(lines)


def _format(paragraph: str) -> str:
    text = escape(paragraph)
    if paragraph.startswith(FENCE):
        return text
    text = _HEADING.sub(r"*\1*", text)
    return _BOLD.sub(lambda match: f"*{match.group(1) or match.group(2)}*", text)


def _pack(paragraphs: list[str], limit: int = SECTION_LIMIT) -> list[str]:
    chunks: list[str] = []
    current = ""
    for unit in (piece for paragraph in paragraphs for piece in _fit(paragraph, limit)):
        joined = f"{current}\n\n{unit}" if current else unit
        if len(joined) <= limit:
            current = joined
        else:
            chunks.append(current)
            current = unit
    return [*chunks, current] if current else chunks


def _fit(paragraph: str, limit: int) -> list[str]:
    if len(paragraph) <= limit:
        return [paragraph]
    if paragraph.startswith(FENCE + "\n") and paragraph.endswith("\n" + FENCE):
        inner = paragraph[len(FENCE) + 1 : -len(FENCE) - 1]
        return [f"{FENCE}\n{piece}\n{FENCE}" for piece in _cut(inner, limit - 2 * len(FENCE) - 2)]
    return _cut(paragraph, limit)


def _cut(text: str, limit: int) -> list[str]:
    """At a line end, else a space, else anywhere but inside an `&amp;`-style entity."""
    pieces: list[str] = []
    while len(text) > limit:
        at = text.rfind("\n", 0, limit + 1)
        if at <= 0:
            at = text.rfind(" ", 0, limit + 1)
        if at <= 0:
            entity = text.rfind("&", limit - 5, limit)
            at = entity if entity > 0 and ";" not in text[entity:limit] else limit
            pieces.append(text[:at])
            text = text[at:]
            continue
        pieces.append(text[:at])
        text = text[at + 1 :]
    return [*pieces, text] if text else pieces


def _cut_text(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"
