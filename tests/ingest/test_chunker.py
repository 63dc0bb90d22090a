"""The chunker measured with the real MiniLM tokenizer: nothing is ever cut off by the embedder."""

from __future__ import annotations

from ingest.chunker import ChunkingPolicy, chunk_document
from models import Locator, Section, SourceDoc
from rag.embedder import SentenceTransformerEmbedder

SENTENCE = "A while loop repeats its body as long as its condition stays true, so something in the body must change it. "


def doc(*sections: Section, title: str = "Lecture 2: Control flow") -> SourceDoc:
    return SourceDoc(source="week2/loops.md", kind="markdown", title=title, sections=list(sections))


def chunks_of(document: SourceDoc, embedder: SentenceTransformerEmbedder, size: int = 200, overlap: int = 40, base_url: str | None = None):
    return chunk_document(
        document, course="cs101", file_hash="f" * 64, base_url=base_url, policy=ChunkingPolicy(size, overlap), counter=embedder
    )


def test_every_chunk_fits_the_window_with_its_heading_path(embedder: SentenceTransformerEmbedder) -> None:
    long_title = "Lecture 2: " + "very long title words " * 40
    section = Section(text=SENTENCE * 80, headings=("Loops", "While loops"), locator=Locator(anchor="while-loops"))
    chunks = chunks_of(doc(section, title=long_title), embedder, size=400)
    assert len(chunks) > 5
    for chunk in chunks:
        # What the embedder reads, [CLS] and [SEP] included, never exceeds its 256 word pieces.
        assert embedder.count_tokens([chunk.embedding_text()])[0] + 2 <= embedder.max_tokens
        # The section's own heading outlives a title too long to keep whole.
        assert chunk.embedding_text().split("\n", 1)[0].endswith("Loops > While loops")
    assert SENTENCE.strip() in chunks[1].embedding_text(), "the body is not what gave way"
    untitled = chunks_of(doc(Section(text=SENTENCE * 20), title=long_title), embedder)
    assert all(embedder.count_tokens([c.embedding_text()])[0] + 2 <= embedder.max_tokens for c in untitled)
    assert untitled[0].embedding_text().startswith("Lecture 2: very long title")


def test_chunks_respect_the_size_and_overlap_within_a_section(embedder: SentenceTransformerEmbedder) -> None:
    sentences = [f"Fact number {i} about loops is worth remembering for the exam." for i in range(60)]
    chunks = chunks_of(doc(Section(text=" ".join(sentences), headings=("Loops",))), embedder, size=100, overlap=30)
    sizes = embedder.count_tokens([c.text for c in chunks])
    assert all(size <= 100 for size in sizes)
    for previous, current in zip(chunks, chunks[1:]):
        first_sentence = current.text.split(". ", 1)[0]
        last_sentence = previous.text.rsplit(". ", 1)[-1]
        assert first_sentence in previous.text and last_sentence in current.text, "the next chunk repeats the tail"
    assert all(any(s in c.text for c in chunks) for s in sentences), "no sentence is lost"


def test_no_overlap_or_merging_across_sections(embedder: SentenceTransformerEmbedder) -> None:
    first = Section(text="The for statement iterates over the items of any sequence.", locator=Locator(anchor="for"), headings=("For",))
    second = Section(text="The range function generates arithmetic progressions.", locator=Locator(anchor="range"), headings=("Range",))
    chunks = chunks_of(doc(first, second), embedder, base_url="https://cs101.example.edu/notes/")
    assert [c.text for c in chunks] == [first.text, second.text]
    assert [c.locator.anchor for c in chunks] == ["for", "range"]
    assert chunks[1].url == "https://cs101.example.edu/notes/week2/loops.md#range"
    assert chunks[1].embedding_text().startswith("Lecture 2: Control flow > Range\n")


def test_a_code_block_stays_together_and_a_huge_token_run_is_cut_exactly(embedder: SentenceTransformerEmbedder) -> None:
    code = "```python\nfor i in range(3):\n\n    print(i)\n```"
    blob = "x" * 5 + " ".join(f"tok{i}" for i in range(600))
    chunks = chunks_of(doc(Section(text=f"Intro.\n\n{code}\n\n{blob}")), embedder, size=120, overlap=0)
    assert code in chunks[0].text
    assert all(embedder.count_tokens([c.text])[0] <= 120 for c in chunks)
    rebuilt = " ".join(c.text for c in chunks[1:])
    assert rebuilt.replace(" ", "") == blob.replace(" ", ""), "a cut at word-piece boundaries loses no characters"


def test_chunk_ids_change_with_the_file_and_pages_are_kept(embedder: SentenceTransformerEmbedder) -> None:
    pdf = SourceDoc(
        source="errors.pdf",
        kind="pdf",
        title="Errors",
        sections=[Section(text="Page one text.", locator=Locator(page=1)), Section(text="Page two text.", locator=Locator(page=2))],
    )
    first = chunk_document(pdf, course="c", file_hash="a" * 64, base_url="https://x.edu", policy=ChunkingPolicy(), counter=embedder)
    second = chunk_document(pdf, course="c", file_hash="b" * 64, base_url="https://x.edu", policy=ChunkingPolicy(), counter=embedder)
    assert [c.locator.page for c in first] == [1, 2]
    assert first[1].url == "https://x.edu/errors.pdf#page=2"
    assert {c.id for c in first}.isdisjoint({c.id for c in second})
