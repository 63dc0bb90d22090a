"""The text BM25 sees: lowercased words, stop words out, English stems.

Milvus Lite's analyzer only splits and lowercases, so "stopping", "stops" and "stop"
would be three unrelated terms. Stemming here, on both the stored text and the
query, gives every Milvus (Lite or server) the same vocabulary.
"""

from __future__ import annotations

import re
import threading
from functools import lru_cache

import snowballstemmer

WORD = re.compile(r"\w+", re.UNICODE)
# Words that carry no topic in a student's question ("why does my ... keep ...").
STOP_WORDS = frozenset(
    """a about above after again all am an and any are as at be because been before being below between both but
    by can could did do does doing down during each few for from further had has have having he her here hers him
    his how i if in into is it its itself just me more most my myself no nor not now of off on once only or other
    our ours out over own same she should so some such than that the their theirs them then there these they this
    those through to too under until up very was we were what when where which while who whom why will with would
    you your yours yourself""".split()
)


_per_thread = threading.local()


def _stemmer() -> snowballstemmer.stemmer:
    # A snowball stemmer keeps state between calls: shared by a search and a reindex
    # running at once, it returns wrong stems or raises. One per thread, then.
    stemmer = getattr(_per_thread, "stemmer", None)
    if stemmer is None:
        stemmer = _per_thread.stemmer = snowballstemmer.stemmer("english")
    return stemmer


def terms_of(text: str) -> set[str]:
    """The stemmed content words of `text`, as a set."""
    return set(bm25_text(text).split())


def share_of_terms(terms: set[str], text: str) -> float:
    """How many of `terms` (a question's, from `terms_of`) `text` contains, as a share; 0 for none."""
    return len(terms & terms_of(text)) / len(terms) if terms else 0.0


def bm25_text(text: str) -> str:
    """`"Stopping a loop early"` -> `"stop loop earli"`."""
    return " ".join(_stem(word) for word in WORD.findall(text.lower()) if word not in STOP_WORDS)


@lru_cache(maxsize=1 << 16)
def _stem(word: str) -> str:
    # Pure-Python Snowball costs ~0.1 ms a word; a course's vocabulary is a few thousand
    # words, so remembering them makes stemming a reranker's 30 candidates nearly free.
    return _stemmer().stemWord(word)
