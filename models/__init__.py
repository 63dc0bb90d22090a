"""The shared vocabulary of AI Mentor: plain pydantic types that every layer speaks.

Nothing here imports another package of ours, a platform SDK or a model library.
"""

from models.answer import Answer, AnswerKind, Citation, PriorQuestion, Question, Timings, Turn, last_turns
from models.assignment import ActiveAssignment, Assignment, AssignmentMode, DeclaredAssignment, ExamWindow
from models.attachment import Attachment, Unread
from models.course import Course, EscalationPolicy
from models.documents import Chunk, DocumentKind, Locator, Section, SourceDoc
from models.escalation import Escalation, EscalationStatus, ReplyPlace, VerifiedAnswer, is_verified_source
from models.ingest import FileFailure, IngestReport
from models.release import ALWAYS, Clock, epoch_seconds, release_moment, utc_now
from models.search import SearchHit, SearchMode, SearchResult

__all__ = [
    "ActiveAssignment",
    "Assignment",
    "AssignmentMode",
    "DeclaredAssignment",
    "ExamWindow",
    "ALWAYS",
    "Clock",
    "epoch_seconds",
    "release_moment",
    "utc_now",
    "Answer",
    "Attachment",
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
    "Unread",
    "last_turns",
    "VerifiedAnswer",
    "is_verified_source",
]
