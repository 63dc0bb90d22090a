"""Errors of the rag package; each message says what to do next."""

from __future__ import annotations


class RagError(Exception):
    """Root of everything rag raises on purpose."""


class IndexUnavailableError(RagError):
    """Milvus cannot be reached, or its database cannot be opened."""


class IndexOperationError(RagError):
    """Milvus refused or failed a read or write after the connection was made."""


class IndexLockedError(IndexUnavailableError):
    """A Milvus Lite database is already open in another process."""


class EmbedderUnavailableError(RagError):
    """The embedding model cannot be found or loaded."""


class EmptyQueryError(RagError):
    """A search or a question with no words in it."""


class UnknownCourseIndexError(RagError):
    """A course that has no index yet: it was never ingested."""


class QuestionTooLongError(RagError):
    """A question over the length limit; the message gives the limit."""


class LanguageModelError(RagError):
    """The language model could not answer: it failed to load, or its server is down or talking nonsense.

    The answerer catches it and falls back to showing the best passages.
    """


class ModelFileError(LanguageModelError):
    """A GGUF file is missing, truncated, corrupt or too large; the message names the path and the fix."""


class ModelProbeError(LanguageModelError):
    """llama.cpp crashed, hung or would fault loading the model in a test process, so it is not loaded here."""


class ModelDownloadError(RagError):
    """Fetching a model failed or the file did not match its expected size and checksum."""


class RerankerUnavailableError(RagError):
    """The configured reranker cannot load; search keeps the first stage's order and says so."""
