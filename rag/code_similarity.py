"""How much of a code block is copied from an assignment's solution: token shingles, cheap and deterministic.

An answer's code is compared with the solution's as sequences of tokens (identifiers,
numbers, strings, operators), so layout, blank lines and comments change nothing: `#`
comments, `/* … */` blocks, whole-line `//` comments and Python docstrings are dropped
first. The score is the share of the block's 4-token shingles that the solution also
has (containment, not Jaccard: a block that copies a quarter of a long solution word for
word still scores 1.0). A block of fewer than `MIN_SHINGLES` shingles is too short to
judge (one idiomatic line) and scores 0; `max_code_lines` limits those.

Measured in tests/rag/test_solution_similarity.py: a copy with its layout, comments and a
few names changed scores well above 0.5; unrelated code on the same topic scores below 0.2.

>>> overlap("def f(x):\\n    return x * 2 + 1  # double", "def f(x):\\n    # doubles\\n    return x*2+1")
1.0
"""

from __future__ import annotations

import re
from collections.abc import Iterable

SHINGLE = 4
MIN_SHINGLES = 6
_TOKEN = re.compile(
    r'(?P<drop>"""[\s\S]*?"""|\'\'\'[\s\S]*?\'\'\'|/\*[\s\S]*?\*/|#[^\n]*|^[ \t]*//[^\n]*)'
    r'|(?P<keep>"(?:\\.|[^"\\\n])*"|\'(?:\\.|[^\'\\\n])*\'|\w+|[^\w\s])',
    re.MULTILINE,
)


def code_tokens(code: str) -> list[str]:
    """The code's tokens with comments and docstrings left out (strings are kept: a `#` inside one is no comment)."""
    return [match["keep"] for match in _TOKEN.finditer(code) if match["keep"] is not None]


def shingles(tokens: list[str]) -> set[tuple[str, ...]]:
    return {tuple(tokens[i : i + SHINGLE]) for i in range(len(tokens) - SHINGLE + 1)}


def overlap(code: str, solution: str) -> float:
    """The share of `code`'s shingles found in `solution`, 0.0 to 1.0 (0.0 when `code` is too short to judge)."""
    mine = shingles(code_tokens(code))
    if len(mine) < MIN_SHINGLES:
        return 0.0
    return len(mine & shingles(code_tokens(solution))) / len(mine)


def closest(code: str, solutions: Iterable[str]) -> float:
    """The highest overlap of `code` with any of the solution files."""
    return max((overlap(code, solution) for solution in solutions), default=0.0)
