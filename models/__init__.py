"""The shared vocabulary of AI Mentor: plain pydantic types that every layer speaks.

Nothing here imports another package of ours, a platform SDK or a model library.
"""

from models.answer import Answer, AnswerKind, Citation, PriorQuestion, Question, Timings, Turn, last_turns
from models.course import Course, EscalationPolicy
from models.documents import Chunk, DocumentKind, Locator, Section, SourceDoc
from models.escalation import Escalation, EscalationStatus, ReplyPlace
from models.ingest import FileFailure, IngestReport
from models.search import SearchHit, SearchMode, SearchResult

__all__ = [
    "Answer",
    "AnswerKind",
    "Citation",
    "Chunk",
    "Course",
    "DocumentKind",
    "Escalation",
    "EscalationPolicy",
    "EscalationStatus",
    "FileFailure",
    "IngestReport",
    "Locator",
    "PriorQuestion",
    "Question",
    "ReplyPlace",
    "SearchHit",
    "SearchMode",
    "SearchResult",
    "Section",
    "SourceDoc",
    "Timings",
    "Turn",
    "last_turns",
]
