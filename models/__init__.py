"""The shared vocabulary of AI Mentor: plain pydantic types that every layer speaks.

Nothing here imports another package of ours, a platform SDK or a model library.
"""

from models.answer import Answer, AnswerKind, Citation, Question, Timings, Turn, last_turns
from models.attachment import Attachment, Unread
from models.course import Course
from models.documents import Chunk, DocumentKind, Locator, Section, SourceDoc
from models.ingest import FileFailure, IngestReport
from models.search import SearchHit, SearchMode, SearchResult

__all__ = [
    "Answer",
    "Attachment",
    "AnswerKind",
    "Citation",
    "Chunk",
    "Course",
    "DocumentKind",
    "FileFailure",
    "IngestReport",
    "Locator",
    "Question",
    "SearchHit",
    "SearchMode",
    "SearchResult",
    "Section",
    "SourceDoc",
    "Timings",
    "Turn",
    "Unread",
    "last_turns",
]
