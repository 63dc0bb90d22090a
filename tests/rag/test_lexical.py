"""The text BM25 sees: the same stems for the stored chunk and the student's question."""

from rag.lexical import bm25_text


def test_stems_lowercases_and_drops_stop_words() -> None:
    assert bm25_text("Stopping a loop EARLY: break and continue") == "stop loop earli break continu"


def test_a_question_and_the_text_meet_on_stems() -> None:
    question = set(bm25_text("why does my function keep remembering items?").split())
    text = set(bm25_text("Default values are remembered between calls; the list keeps its item.").split())
    assert {"rememb", "keep", "item"} <= question & text


def test_nothing_left_of_a_question_of_stop_words() -> None:
    assert bm25_text("what is it?") == ""


def test_stemming_from_several_threads_at_once_gives_the_same_stems() -> None:
    from concurrent.futures import ThreadPoolExecutor

    texts = [f"Stopping {n} running loops, remembering the defaults of functions and classes" for n in range(2000)]
    expected = [bm25_text(text) for text in texts]
    with ThreadPoolExecutor(max_workers=4) as pool:
        assert list(pool.map(bm25_text, texts)) == expected
