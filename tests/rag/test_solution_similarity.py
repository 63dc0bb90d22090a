"""The solution check's measure (`rag.code_similarity`) and the guard built on it, on code a student could be shown."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

from models import ActiveAssignment, Course
from rag.assignment_guard import guarded
from rag.code_similarity import closest, code_tokens, overlap

THRESHOLD = Course(name="x", sources=(Path("."),)).solution_overlap
SOLUTION = '''import string


def count_words(path):
    """Count each word of the file at path."""
    counts = {}
    with open(path) as f:
        for line in f:
            for word in line.lower().split():
                word = word.strip(string.punctuation)
                if word:
                    counts[word] = counts.get(word, 0) + 1
    return counts
'''
# The same code with its layout, comments and a name changed, and the docstring gone.
NEAR_COPY = '''def count_words(path):
    # open the file, then count every word
    counts = {}
    with open(path) as handle:
        for line in handle:
            for word in line.lower().split():
                word = word.strip(string.punctuation)
                if word: counts[word] = counts.get(word, 0)+1
    return counts
'''
# Its heart, four lines: short enough for `max_code_lines`, still the solution.
CORE = """for word in line.lower().split():
    word = word.strip(string.punctuation)
    if word:
        counts[word] = counts.get(word, 0) + 1
"""
# Code on the same topic (files, loops, dictionaries) that solves something else.
UNRELATED = [
    '''def longest_line(path):
    best = ""
    with open(path) as f:
        for line in f:
            if len(line) > len(best):
                best = line
    return best.rstrip("\\n")
''',
    """inventory = {"apples": 3}
inventory["pears"] = inventory.get("pears", 0) + 2
for name, count in sorted(inventory.items()):
    print(f"{name}: {count}")
""",
    """def mean(values):
    total = 0
    for value in values:
        total += value
    return total / len(values)
""",
]
DUE = datetime(2026, 10, 20, 15, 0, tzinfo=timezone.utc)


def test_layout_comments_and_docstrings_do_not_count() -> None:
    assert code_tokens("x = 1  # one\n\n\n'''doc'''\ny='#'") == ["x", "=", "1", "y", "=", "'#'"]
    assert code_tokens("/* c */ int a = b // 2;") == ["int", "a", "=", "b", "/", "/", "2", ";"]
    assert code_tokens("  // a whole-line comment\nz") == ["z"]


def test_a_near_copy_of_the_solution_is_caught_and_unrelated_code_is_not() -> None:
    assert overlap(NEAR_COPY, SOLUTION) >= THRESHOLD
    assert overlap(CORE, SOLUTION) >= THRESHOLD
    for code in UNRELATED:
        assert overlap(code, SOLUTION) < THRESHOLD, code
    assert closest(NEAR_COPY, [UNRELATED[0], SOLUTION]) == overlap(NEAR_COPY, SOLUTION)
    assert overlap("print(x)", SOLUTION) == 0.0, "too short to judge"


def test_the_guard_replaces_code_close_to_the_solution_with_a_hint_and_says_why() -> None:
    hint = ActiveAssignment(name="Homework 3", due=DUE, mode="hints", max_code_lines=8, solutions=(SOLUTION,))
    copied = f"Split each line, strip punctuation and count [1]:\n\n```python\n{CORE}```\n\nThen return the counts."
    shown = guarded(copied, hint)
    assert shown.startswith("This question is about Homework 3, which is due 2026-10-20 15:00 UTC.")
    assert "close to the assignment's solution" in shown and "counts.get" not in shown
    assert "Then return the counts." in shown
    for code in UNRELATED:
        other = f"For example [1]:\n\n```python\n{code}```"
        assert guarded(other, hint) == other
    assert guarded(copied, hint.model_copy(update={"mode": "full"})) == copied
