"""The prompt: the course's policy, numbered sources, the thread so far and the question,
fitted into the model's context window with room left for the answer."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from models import SearchHit, Turn
from rag.llm import ChatMessage

DEFAULT_POLICY = (
    "You are a patient teaching assistant for this course. Explain ideas step by step and give hints "
    "that help the student get there on their own. Never hand out complete solutions to graded "
    "assignments, quizzes or exams."
)

INSTRUCTIONS = (
    "Answer the student's question using only the numbered sources. After each claim, cite the source "
    "it comes from by its number in square brackets, like [1] or [2]. If the sources do not answer the "
    "question, say that the course materials do not cover it and suggest asking a TA. Keep the answer "
    "short: a few sentences, and a small code example only when it helps."
)

MESSAGE_OVERHEAD = 8
"""Tokens a chat template adds around each message (role markers, separators), rounded up."""
SAFETY_MARGIN = 32
MAX_TURN_CHARS = 1500
"""An earlier turn longer than this is shortened before it is counted: the gist is enough."""

TokenCounter = Callable[[str], int]


@dataclass(frozen=True)
class Prompt:
    messages: list[ChatMessage]
    sources: list[SearchHit]
    """The sources as numbered in the prompt: `[1]` is `sources[0]`."""
    history_used: int
    tokens: int
    """The prompt's size as counted while fitting it (an upper bound)."""


def source_label(hit: SearchHit) -> str:
    """`Title › Section (p. 3)`: how a source is named in the prompt."""
    place = " › ".join(part for part in (hit.title, *hit.headings) if part)
    where = hit.locator.describe()
    return f"{place} ({where})" if where and not where.startswith("#") else place


def build_prompt(
    question: str,
    hits: Sequence[SearchHit],
    history: Sequence[Turn],
    *,
    count_tokens: TokenCounter,
    context_window: int,
    answer_tokens: int,
    policy: str | None = None,
) -> Prompt:
    """Fit everything into `context_window - answer_tokens` tokens; this never fails.

    What gives way first: the oldest turns of the thread, then the weakest sources (the
    last), then the text of the one source left, and last of all the question itself.
    """
    system = f"{policy or DEFAULT_POLICY}\n\n{INSTRUCTIONS}"
    budget = context_window - answer_tokens - SAFETY_MARGIN
    turns = [_shortened(turn) for turn in history]
    blocks = [_source_block(n, hit, hit.text) for n, hit in enumerate(hits, 1)]
    turn_tokens = [count_tokens(turn.text) + MESSAGE_OVERHEAD for turn in turns]
    block_tokens = [count_tokens(block) for block in blocks]
    fixed = count_tokens(system) + count_tokens(_question_block(question)) + 2 * MESSAGE_OVERHEAD

    while fixed + sum(turn_tokens) + sum(block_tokens) > budget:
        if turn_tokens:
            turns.pop(0)
            turn_tokens.pop(0)
        elif len(block_tokens) > 1:
            blocks.pop()
            block_tokens.pop()
        else:
            break
    kept_hits = list(hits[: len(blocks)])

    room = budget - fixed
    if blocks and block_tokens[0] > room:
        hit = kept_hits[0]
        text = _cut_to_tokens(hit.text, room - count_tokens(_source_block(1, hit, "")), count_tokens)
        if text:
            blocks[0] = _source_block(1, hit, text)
            block_tokens[0] = count_tokens(blocks[0])
        else:
            blocks, block_tokens, kept_hits = [], [], []
    if fixed > budget:
        room = budget - count_tokens(system) - count_tokens(_question_block("")) - 2 * MESSAGE_OVERHEAD
        question = _cut_to_tokens(question, max(room, 1), count_tokens)
        fixed = budget

    messages: list[ChatMessage] = [{"role": "system", "content": system}]
    messages += [{"role": turn.role, "content": turn.text} for turn in turns]
    sources_part = "Sources:\n\n" + "\n\n".join(blocks) + "\n\n" if blocks else "Sources: none.\n\n"
    messages.append({"role": "user", "content": sources_part + _question_block(question)})
    return Prompt(
        messages=messages,
        sources=kept_hits,
        history_used=len(turns),
        tokens=fixed + sum(turn_tokens) + sum(block_tokens),
    )


def _source_block(n: int, hit: SearchHit, text: str) -> str:
    return f"[{n}] {source_label(hit)}\n{text.strip()}"


def _question_block(question: str) -> str:
    return f"Question: {question}"


def _shortened(turn: Turn) -> Turn:
    if len(turn.text) <= MAX_TURN_CHARS:
        return turn
    return Turn(role=turn.role, text=turn.text[: MAX_TURN_CHARS - 1].rstrip() + "…")


def _cut_to_tokens(text: str, limit: int, count_tokens: TokenCounter) -> str:
    """The longest prefix of `text` (cut at a word) within `limit` tokens; '' when none fits."""
    if limit <= 0:
        return ""
    if count_tokens(text) <= limit:
        return text
    low, high = 0, len(text)
    while low < high:
        middle = (low + high + 1) // 2
        if count_tokens(text[:middle]) + 1 <= limit:
            low = middle
        else:
            high = middle - 1
    cut = text[:low]
    if " " in cut:
        cut = cut[: cut.rfind(" ")]
    return cut.rstrip() + "…" if cut else ""
