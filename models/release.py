"""When course material is released, and the clock it is compared with.

Release times are kept and compared as UTC epoch seconds: a clock that jumps across a
daylight-saving change, or a server in another zone, never moves a release.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime, time, timezone, tzinfo

Clock = Callable[[], datetime]
"""Returns the current moment, timezone-aware; tests pass a frozen one."""

ALWAYS = 0
"""The release time of material with no release date: the epoch, so every search sees it."""


def utc_now() -> datetime:
    return datetime.now(timezone.utc)


def epoch_seconds(moment: datetime) -> int:
    """Whole seconds since the epoch, as the index stores a release time (a naive moment is taken as UTC)."""
    aware = moment if moment.tzinfo is not None else moment.replace(tzinfo=timezone.utc)
    return int(aware.timestamp())


def release_moment(value: object, zone: tzinfo) -> datetime:
    """A release date as instructors write it, as an aware date-time; raises ValueError when it is none.

    A date alone means midnight in `zone`, a date-time without an offset is read in `zone`,
    and one with an offset keeps it. TOML and YAML hand over `date`/`datetime` objects,
    environment variables and notebook metadata strings (ISO 8601, e.g. `2026-10-05T09:00`).
    """
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value.strip())
        except ValueError:
            raise ValueError(f"{value!r} is not a date or date-time (write e.g. 2026-10-05 or 2026-10-05T09:00)") from None
    if isinstance(value, datetime):
        return value if value.tzinfo is not None else value.replace(tzinfo=zone)
    if isinstance(value, date):
        return datetime.combine(value, time(), tzinfo=zone)
    raise ValueError(f"{value!r} is not a date or date-time (write e.g. 2026-10-05 or 2026-10-05T09:00)")
