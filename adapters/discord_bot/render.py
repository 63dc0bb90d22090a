"""Pure translation between Discord and the core: message text in, chat messages out.

No I/O here, so every rule (mention stripping, citation links, the 2,000-character
split with balanced code fences) is unit-tested without a network.
"""

from __future__ import annotations

import re

from bot.service.notices import Notice, asked_before
from bot.store.history import RunRecord
from models import Answer, Citation, Course, Question, Turn

MAX_MESSAGE = 2000
"""Discord rejects longer messages with HTTP 400 (discord.py does not split for us)."""
THREAD_NAME_CHARS = 80
SOURCES = "**Sources**"
SEE_ALSO = "**See also**"
NOT_COVERED_MARK = "\N{INFORMATION SOURCE}\ufe0f "
RETRIEVAL_ONLY_MARK = "\N{WARNING SIGN}\ufe0f "
QUOTE_LABEL = "\N{BOOKS} *The course's own words, quoted: no model wrote this answer.*\n"

_FENCE = re.compile(r"^\s*(`{3,}|~{3,})")
# `@everyone`, `@here`, `<@id>`, `<@!id>`, `<@&role>`: a zero-width space after the @ keeps
# them from pinging even where allowed_mentions could not be set (copied text, logs).
_MENTIONABLE = re.compile(r"@(everyone|here|[!&]?[0-9]{17,20})")


def neutralise(text: str) -> str:
    return _MENTIONABLE.sub("@\u200b\\1", text)


def strip_mention(content: str, user_id: int, role_id: int | None = None) -> str:
    """The question without the bot's mention (`<@id>`, `<@!id>`, or its managed role `<@&id>`)."""
    pattern = rf"<@!?{user_id}>" + (rf"|<@&{role_id}>" if role_id else "")
    return re.sub(rf"\s*(?:{pattern})\s*", " ", content).strip()


def to_question(
    content: str,
    *,
    author_id: int,
    me: int,
    role_id: int | None,
    course: str | None,
    history: tuple[Turn, ...] = (),
    link: str | None = None,
) -> Question | None:
    """The question a message asks; None when it says nothing but the mention (the asker gets the help text).

    Plain values rather than a `discord.Message`, so it can be checked without a gateway.
    """
    text = strip_mention(content, me, role_id)
    if not text:
        return None
    return Question(text=text, course=course, asker=str(author_id), platform="discord", history=history, link=link)


def thread_name(question: str) -> str:
    """Discord allows 100 characters; the first line's first ~80 read well in the channel list."""
    flat = " ".join(question.split()) or "Question"
    return flat if len(flat) <= THREAD_NAME_CHARS else flat[: THREAD_NAME_CHARS - 1].rstrip() + "\u2026"


def to_turn(author_id: int, is_bot: bool, content: str, me: int, role_id: int | None = None) -> Turn | None:
    """One earlier message as history: ours as `assistant` (without its source list), other bots skipped."""
    if author_id == me:
        text = content.split(f"\n\n{SOURCES}\n", 1)[0].split(f"\n\n{SEE_ALSO}\n", 1)[0]
        return Turn(role="assistant", text=text.strip()) if text.strip() else None
    if is_bot:
        return None
    text = strip_mention(content, me, role_id)
    return Turn(role="user", text=text) if text else None


def citation_line(citation: Citation) -> str:
    # Brackets in a label would end the masked link early; angle brackets stop the embed preview.
    label = neutralise(citation.label()).replace("[", "(").replace("]", ")")
    linked = f"[{label}](<{citation.url}>)" if citation.url else label
    return f"[{citation.n}] {linked}"


def render_answer(answer: Answer, preface: str | None = None) -> list[str]:
    """The answer as Discord messages, each under 2,000 characters, sources last; `preface`
    (what was not read of the attachments) in italics first."""
    body = neutralise(answer.text.strip())
    if answer.kind == "not_covered":
        body = NOT_COVERED_MARK + body
    elif answer.kind == "retrieval_only":
        body = RETRIEVAL_ONLY_MARK + body
    elif answer.kind == "quote":
        body = QUOTE_LABEL + body
    if answer.asked_before is not None:
        body = neutralise(asked_before(answer.asked_before)) + "\n\n" + body
    cited = [c for c in answer.citations if not c.see_also]
    extra = [c for c in answer.citations if c.see_also]
    parts = [f"*{neutralise(preface)}*", body] if preface else [body]
    for title, citations in ((SOURCES, cited), (SEE_ALSO, extra)):
        # retrieval_only text already numbers its passages; the links still help.
        if citations:
            parts.append(title + "\n" + "\n".join(citation_line(c) for c in citations))
    return split_message("\n\n".join(parts))


def render_report(course: Course, record: RunRecord) -> list[str]:
    return split_message(f"**Scheduled reindex of {course.name}**: {neutralise(record.summary())}")


def render_notice(notice: Notice) -> str:
    return neutralise(notice.text)


def split_message(text: str, limit: int = MAX_MESSAGE) -> list[str]:
    """Split at paragraph, then line, then word boundaries; a code block cut in two is
    closed at the end of one message and reopened (same language) in the next."""
    pieces = [piece for block in _blocks(text) for piece in _fit(block, limit)]
    messages: list[str] = []
    for piece in pieces:
        if messages and len(messages[-1]) + 2 + len(piece) <= limit:
            messages[-1] += "\n\n" + piece
        else:
            messages.append(piece)
    return messages or [""]


def _blocks(text: str) -> list[str]:
    """Paragraphs outside code, whole fenced blocks inside (an unclosed fence is closed)."""
    blocks: list[str] = []
    current: list[str] = []
    fence: str | None = None
    for line in text.splitlines():
        match = _FENCE.match(line)
        if fence is None and match:
            if current:
                blocks.append("\n".join(current))
            current, fence = [line], match.group(1)
        elif fence is not None:
            current.append(line)
            if match and match.group(1).startswith(fence) and not line.strip()[len(match.group(1)) :].strip():
                blocks.append("\n".join(current))
                current, fence = [], None
        elif not line.strip():
            if current:
                blocks.append("\n".join(current))
            current = []
        else:
            current.append(line)
    if current:
        blocks.append("\n".join(current + ([fence] if fence else [])))
    return blocks


def _fit(block: str, limit: int) -> list[str]:
    if len(block) <= limit:
        return [block]
    lines = block.split("\n")
    match = _FENCE.match(lines[0])
    if not match:
        return _pack(_units(lines, limit), "\n", limit)
    opener, closer = lines[0], match.group(1)
    room = limit - len(opener) - len(closer) - 2
    inner = _pack(_units(lines[1:-1], room), "\n", room)
    return [f"{opener}\n{chunk}\n{closer}" for chunk in inner]


def _units(lines: list[str], limit: int) -> list[str]:
    """Lines, with any line over the limit cut at spaces (or hard, for one unbroken word)."""
    units: list[str] = []
    for line in lines:
        if len(line) <= limit:
            units.append(line)
            continue
        words = [w for word in line.split(" ") for w in (word[i : i + limit] for i in range(0, max(len(word), 1), limit))]
        units.extend(_pack(words, " ", limit))
    return units


def _pack(units: list[str], separator: str, limit: int) -> list[str]:
    chunks: list[str] = []
    for unit in units:
        if chunks and len(chunks[-1]) + len(separator) + len(unit) <= limit:
            chunks[-1] += separator + unit
        else:
            chunks.append(unit)
    return chunks
