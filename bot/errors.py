"""Errors of the bot package: configuration and requests a user got wrong."""

from __future__ import annotations


class BotError(Exception):
    """Root of everything bot raises on purpose."""


class ConfigError(BotError):
    """The settings (mentor.toml, .env or MENTOR_ variables) are invalid; the message names the key."""


class UnknownCourseError(BotError):
    """A course name that is not configured."""


class BusyError(BotError):
    """Too much work is queued already; the caller should try again shortly."""


class ShuttingDownError(BusyError):
    """The service is stopping: work it could not finish, or was asked for too late; the asker should ask again."""


class SearchUnavailableError(BusyError):
    """The index cannot be searched now (Milvus unreachable); students are told to try again, operators see why in the log."""


class ReindexBusyError(BotError):
    """A reindex of the course is already running; the message says since when and who started it."""

    def __init__(self, message: str, running: object = None) -> None:
        super().__init__(message)
        self.running = running


class NotAllowedError(BotError):
    """The requester may not do this (e.g. reindex without being an instructor)."""


class PlatformError(BotError):
    """A chat platform cannot start: a missing or rejected token, an unreachable API; the message names the setting."""


class LineFullError(BusyError):
    """More questions are waiting than `answer.queue_size` allows; the message says when to ask again."""


class RateLimitedError(BotError):
    """One student asked more than `answer.per_student_per_minute` questions in a minute.

    `quiet`: the student was told already in this window, so this one is only logged.
    """

    def __init__(self, message: str, *, quiet: bool = False) -> None:
        super().__init__(message)
        self.quiet = quiet


class DatabaseUnavailableError(BotError):
    """The state database (`database_url`) cannot be reached or used; the message names the setting."""


class StateImportError(BotError):
    """An old SQLite state file that `mentor db import` cannot import (imported already, or not ours)."""


class ThreadGoneError(BotError):
    """The student's thread was deleted or archived, so a TA's answer cannot be posted there."""


class VerifiedAnswerError(BotError):
    """A verified answer that cannot be edited or deleted as asked (unknown id, empty text); the message says what to do."""


class UnknownVerifiedAnswerError(VerifiedAnswerError):
    """No verified answer has this id (deleted, or never kept)."""
