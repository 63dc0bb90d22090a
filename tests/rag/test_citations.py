"""Citation markers: renumbered by first use, deduplicated by page, bounded to the sources shown."""

from __future__ import annotations

from models import Locator, SearchHit
from rag.citations import partial_text, resolve_citations


def hit(source: str, *, page: int | None = None, anchor: str | None = None, title: str = "Notes") -> SearchHit:
    fragment = f"page={page}" if page else anchor
    return SearchHit(
        source=source, title=title, locator=Locator(page=page, anchor=anchor), url=f"https://x.edu/{source}#{fragment}",
        score=0.9, text="text",
    )


SOURCES = [
    hit("loops.md", anchor="break"),
    hit("files.pdf", page=4),
    hit("sets.html", anchor="sets"),
]


def test_markers_are_renumbered_in_order_of_first_use() -> None:
    text, citations = resolve_citations("Use a set [3]. Opening with w truncates [2]. Sets again [3].", SOURCES)
    assert text == "Use a set [1]. Opening with w truncates [2]. Sets again [1]."
    assert [(c.n, c.source, c.page, c.anchor, c.see_also) for c in citations] == [
        (1, "sets.html", None, "sets", False), (2, "files.pdf", 4, None, False), (3, "loops.md", None, "break", True),
    ]


def test_the_best_pages_a_model_did_not_cite_follow_its_citations_as_see_also() -> None:
    """Issue 16: a model that cites only its second passage still leaves the best-ranked pages a click away."""
    more = [*SOURCES, hit("dicts.html", anchor="dicts")]
    text, citations = resolve_citations("Opening with w truncates [2].", more)
    assert text == "Opening with w truncates [1]."
    assert [(c.n, c.source, c.see_also) for c in citations] == [(1, "files.pdf", False), (2, "loops.md", True), (3, "sets.html", True)]


def test_grouped_and_worded_markers_are_read() -> None:
    text, citations = resolve_citations("Both apply [1, 3] and [Source 2].", SOURCES)
    assert text == "Both apply [1][2] and [3]."
    assert [c.source for c in citations] == ["loops.md", "sets.html", "files.pdf"]


def test_markers_outside_the_sources_are_removed() -> None:
    text, citations = resolve_citations("Claim [7]. Other claim [0][2].", SOURCES)
    assert text == "Claim. Other claim [1]."
    assert [c.source for c in citations if not c.see_also] == ["files.pdf"]


def test_two_sources_on_the_same_page_share_one_number() -> None:
    same_page = [hit("files.pdf", page=4), hit("files.pdf", page=4), hit("files.pdf", page=5)]
    text, citations = resolve_citations("A [2]. B [1]. C [3].", same_page)
    assert text == "A [1]. B [1]. C [2]."
    assert [(c.n, c.page) for c in citations] == [(1, 4), (2, 5)]


def test_an_answer_that_cites_nothing_gets_the_three_best_distinct_sources_as_see_also() -> None:
    """Issue 16: one lone passage may be the wrong one; the best three let a student check the answer."""
    drawn_from = [
        hit("files.pdf", page=4), hit("files.pdf", page=4), hit("loops.md", anchor="break"),
        hit("files.pdf", page=5), hit("sets.html", anchor="sets"),
    ]
    text, citations = resolve_citations("Use break to leave the loop.", drawn_from)
    assert text == "Use break to leave the loop."
    assert [(c.n, c.source, c.page, c.anchor) for c in citations] == [
        (1, "files.pdf", 4, None), (2, "loops.md", None, "break"), (3, "files.pdf", 5, None),
    ]
    assert all(c.see_also for c in citations)
    assert citations[1].url == "https://x.edu/loops.md#break"


def test_no_sources_means_no_citations() -> None:
    assert resolve_citations("Nothing to cite [1].", []) == ("Nothing to cite.", [])


def test_text_shown_while_streaming_only_grows() -> None:
    final = "Sets drop duplicates [3]. Files opened with w are emptied [2][3]."
    shown: list[str] = []
    for end in range(1, len(final) + 1):
        shown.append(partial_text(final[:end], SOURCES))
    for earlier, later in zip(shown, shown[1:]):
        assert later.startswith(earlier.rstrip()), (earlier, later)
    assert shown[-1] == resolve_citations(final, SOURCES)[0]
    assert "[3" not in "".join(shown)
