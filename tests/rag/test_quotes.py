"""Quote mode's pieces: splitting passages into quotable units, cutting long sentences, picking
quotes with the real MiniLM, composing the answer and its text-fragment links."""

from __future__ import annotations

from urllib.parse import unquote

from adapters.discord_bot.render import render_answer as discord_answer
from adapters.slack.render import render_answer as slack_answer
from models import Answer, Locator, SearchHit
from rag.embedder import SentenceTransformerEmbedder
from rag.quotes import (
    QUOTE_LEAD,
    Quote,
    QuotePicker,
    QuotePolicy,
    Unit,
    compose,
    cut_sentence,
    split_sentences,
    split_units,
    text_fragment_url,
)
from tests.rag.test_vector_cache import Counting


def hit(text: str, source: str = "notes.md", anchor: str | None = None, url: str | None = None, page: int | None = None) -> SearchHit:
    return SearchHit(source=source, title="Notes", locator=Locator(anchor=anchor, page=page), url=url, score=1.0, text=text)


def test_sentences_end_at_a_full_stop_before_a_capital_not_after_an_abbreviation() -> None:
    text = "Use a list, e.g. Scores of a class. Fig. 3 shows it! Is it mutable? Yes: it is. range(5) gives 0 to 4."
    assert split_sentences(text) == [
        "Use a list, e.g. Scores of a class.", "Fig. 3 shows it!", "Is it mutable?", "Yes: it is.", "range(5) gives 0 to 4.",
    ]


def test_units_keep_code_with_the_sentence_that_introduces_it_and_drop_headings() -> None:
    text = (
        "## Stopping early\n\nTo leave a loop at once, use break:\n\n```python\nwhile True:\n    break\n```\n\n"
        "- A list item is one unit\n- So is this one\n\n| name | kind |\n| list | mutable |\n\n"
        "```\nprint('a lone block')\n```\nA sentence that\nwraps over two lines."
    )
    assert split_units(text) == [
        Unit("To leave a loop at once, use break:", "```python\nwhile True:\n    break\n```"),
        Unit("- A list item is one unit"),
        Unit("- So is this one"),
        Unit("| name | kind |"),
        Unit("| list | mutable |"),
        Unit("", "```\nprint('a lone block')\n```"),
        Unit("A sentence that wraps over two lines."),
    ]


def test_an_unclosed_code_fence_is_closed_and_text_without_boundaries_is_one_unit() -> None:
    assert split_units("Run this:\n```python\nx = 1") == [Unit("Run this:", "```python\nx = 1\n```")]
    assert split_units("append extend insert remove pop clear") == [Unit("append extend insert remove pop clear")]
    assert split_units("") == [] and split_units("# Only a heading\n\n") == []


def test_a_long_sentence_is_cut_at_a_clause_never_mid_word() -> None:
    sentence = "A tuple is immutable, " + "so its items cannot change once it is created and " * 8 + "that is all."
    cut = cut_sentence(sentence, 120)
    assert len(cut) <= 121 and cut.endswith("…") and sentence.startswith(cut[:-1])
    assert sentence[len(cut) - 1] in " ,", "the cut falls between words"
    no_clauses = "word " * 100
    assert cut_sentence(no_clauses, 50) == ("word " * 10).strip() + "…"
    assert cut_sentence("short.", 50) == "short."


def test_html_citations_link_to_the_sentence_itself_pdf_pages_do_not() -> None:
    page = hit("", "04-data-structures.html", "tuples", "https://c.example.edu/04-data-structures.html#tuples")
    url = text_fragment_url(page, "A tuple is an ordered sequence like a list, but it is `immutable`: once created, it stays.")
    assert url is not None and url.startswith("https://c.example.edu/04-data-structures.html#tuples:~:text=")
    start, end = url.split(":~:text=")[1].split(",")
    assert unquote(start) == "A tuple is an ordered" and unquote(end) == "created, it stays."
    assert "%2C" in end and "`" not in unquote(url)
    assert text_fragment_url(hit("", "a.html", None, "https://c.example.edu/a.html"), "x-y") == "https://c.example.edu/a.html#:~:text=x%2Dy"
    pdf = hit("", "slides.pdf", None, "https://c.example.edu/slides.pdf#page=3", page=3)
    assert text_fragment_url(pdf, "Anything at all.") == "https://c.example.edu/slides.pdf#page=3"


def test_the_picker_quotes_the_sentence_that_answers(embedder: SentenceTransformerEmbedder) -> None:
    hits = [
        hit("Loops repeat code. A for loop walks over a sequence. The break statement ends the loop at once, "
            "skipping the rest of it. Indentation marks the body.", "loops.md", "loops"),
        hit("A dictionary maps keys to values. Keys must be hashable.", "dicts.md", "dicts"),
        hit("Das Schlüsselwort break beendet die Schleife sofort.", "de.md", "de"),
    ]
    quotes = QuotePicker(embedder).pick("How do I stop a loop early?", hits)
    assert quotes and "The break statement ends the loop at once, skipping the rest of it." in quotes[0].unit.text
    assert quotes[0].rank == 0 and quotes[0].unit.text in hits[0].text, "whole sentences, as they stand"
    assert 1 <= len(quotes) <= 3 and all("dictionary" not in q.unit.text for q in quotes)
    text, citations = compose(quotes)
    assert text.startswith(QUOTE_LEAD + "\n\n\u201c" + quotes[0].unit.text + "\u201d [1]")
    assert citations[0].source == "loops.md" and citations[0].quotes[0] == quotes[0].unit.text
    assert citations[0].excerpt == hits[0].text and [c.n for c in citations] == list(range(1, len(citations) + 1))
    _, with_consulted = compose(quotes, hits)
    assert [c.source for c in with_consulted] == ["loops.md", "dicts.md", "de.md"], "the unquoted top passages as see also"
    assert [c.see_also for c in with_consulted] == [False, True, True] and [c.n for c in with_consulted] == [1, 2, 3]


def test_passages_without_a_sentence_to_quote_give_no_quotes(embedder: SentenceTransformerEmbedder) -> None:
    assert QuotePicker(embedder).pick("what is a loop?", [hit("# Loops\n\n## For"), hit("x")]) == []


def test_markup_in_a_quote_never_pings_anyone() -> None:
    quoted = hit("Ping <!channel>, <@U123>, @everyone, @here and <@123456789012345678> when the build breaks.", "ops.md", "ops")
    text, citations = compose([Quote(split_units(quoted.text)[0], quoted, 0, 1.0)])
    answer = Answer(text=text, citations=citations, grounded=True, kind="quote")
    slack = slack_answer(answer)
    shown = slack.text + str(slack.blocks)
    assert "<!channel>" not in shown and "<@U123>" not in shown and "@here" not in shown
    discord = "".join(discord_answer(answer))
    assert "@everyone" not in discord and "@here" not in discord and "<@123456789012345678>" not in discord


def test_two_sentences_of_one_paragraph_may_be_quoted_together_never_across_paragraphs(embedder: SentenceTransformerEmbedder) -> None:
    passage = hit(
        "Default values are evaluated only once, when the function is defined. "
        "So a list used as a default keeps what earlier calls appended to it.\n\n"
        "Keyword arguments follow positional ones in a call."
    )
    (quote, *_) = QuotePicker(embedder).pick("why does my default list remember items from earlier calls?", [passage])
    assert quote.unit.text.startswith("Default values are evaluated only once") or quote.unit.text.startswith("So a list")
    assert "Keyword arguments" not in quote.unit.text
    assert all(unit.continues == (n == 1) for n, unit in enumerate(split_units(passage.text)))


def test_the_top_three_passages_are_always_cited_quoted_or_not() -> None:
    hits = [hit(f"Passage {n} says something useful about loops.", f"p{n}.md", f"a{n}") for n in range(4)]
    quotes = [Quote(split_units(hits[n].text)[0], hits[n], n, 1.0 - n / 10) for n in (0, 2, 3)]
    _, citations = compose(quotes, hits)
    assert [(c.source, c.see_also) for c in citations] == [("p0.md", False), ("p2.md", False), ("p3.md", False), ("p1.md", True)]


def test_a_quote_longer_than_a_message_is_split_with_every_code_fence_closed() -> None:
    code = "\n".join(f"    total_{i} = compute(__init__, item_{i})  # step {i} of a long loop" for i in range(120))
    passage = hit(f"To sum many items, write a loop:\n\n~~~python\nfor item in items:\n{code}\n~~~\n", "loops.md", "sum")
    (unit,) = split_units(passage.text)
    assert unit.code is not None and unit.code.startswith("```python\n") and unit.code.endswith("\n```")
    text, citations = compose([Quote(unit, passage, 0, 1.0)], [passage])
    answer = Answer(text=text, citations=citations, grounded=True, kind="quote")
    discord = discord_answer(answer)
    assert len(discord) > 2 and all(len(message) <= 2000 for message in discord)
    assert all(message.count("```") % 2 == 0 for message in discord), "each message closes the fences it opens"
    sections = [block["text"]["text"] for block in slack_answer(answer).blocks if block["type"] == "section"]
    assert len(sections) > 2 and all(len(section) <= 3000 and section.count("```") % 2 == 0 for section in sections)
    shown = "".join(sections)
    assert "compute(__init__, item_119)" in shown and "*init*" not in shown, "code stays code, not bold"


def test_a_long_section_embeds_only_its_shortlist_and_still_quotes_the_answer(embedder: SentenceTransformerEmbedder) -> None:
    filler = " ".join(f"Section {n} of the manual covers topic number {n} in some detail." for n in range(60))
    answer = "The break statement ends the loop at once, skipping the rest of it."
    matched = "Loops repeat code until they are told to stop."
    counting = Counting(embedder)
    picker = QuotePicker(counting, QuotePolicy(shortlist=8))  # type: ignore[arg-type]
    section = hit(f"{filler} {matched} {answer} {filler}", "loops.md", "loops")
    quotes = picker.pick("How do I stop a loop early with break?", [section], [matched])
    assert len(split_units(section.text)) > 100 and len(counting.embedded) == 8, "only the shortlist is embedded"
    assert quotes and answer in quotes[0].unit.text
    assert matched in counting.embedded, "the chunk search matched is shortlisted though it shares few of the question's words"
