"""Which replica runs a scheduled firing: the first to claim the (job, slot) row in the shared database.

Every replica runs the same schedule, so each would reindex each course at 03:00. A claim
is one INSERT under the table's primary key: exactly one replica's succeeds, whatever the
clocks and jitter, and the others skip that firing.
"""

from __future__ import annotations

import os
import secrets
import socket
import time
from datetime import datetime, timedelta, timezone

from apscheduler.triggers.base import BaseTrigger
from sqlalchemy import delete, insert, select
from sqlalchemy.exc import IntegrityError

from bot.store.database import Database
from bot.store.tables import schedule_claims

KEEP_S = 30 * 24 * 3600.0
"""Claims older than this are pruned: no firing is retried that late."""


class ScheduleClaims:
    def __init__(self, database: Database) -> None:
        self.engine = database.engine
        self.claimant = f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"
        """This replica (several may share a host, or a process in tests); its retries keep it."""

    def claim(self, job: str, slot: datetime) -> str | None:
        """None when this process may run the firing (it claimed it now or earlier); else who did."""
        row = {"job": job, "slot": slot.timestamp(), "host": self.claimant, "claimed_at": time.time()}
        try:
            with self.engine.begin() as db:
                db.execute(delete(schedule_claims).where(schedule_claims.c.claimed_at < time.time() - KEEP_S))
                db.execute(insert(schedule_claims).values(row))
            return None
        except IntegrityError:
            with self.engine.connect() as db:
                holder = db.execute(
                    select(schedule_claims.c.host).where(schedule_claims.c.job == job, schedule_claims.c.slot == row["slot"])
                ).scalar()
            return None if holder == self.claimant else str(holder)


def due_slot(trigger: BaseTrigger, lookback: timedelta) -> datetime | None:
    """The nominal time of the firing running now: the trigger's last fire time up to now, looking
    back as far as a firing can run late. The claim's key: every replica computes the same one."""
    now = datetime.now(timezone.utc)
    due, fire = None, trigger.get_next_fire_time(None, now - lookback)
    while fire is not None and fire <= now:
        due, fire = fire, trigger.get_next_fire_time(fire, fire + timedelta(seconds=1))
    return due
