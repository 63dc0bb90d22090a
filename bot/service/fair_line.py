"""Whose question goes next: one line of waiting questions, served round-robin across students.

A burst is queued, not refused (the bound on waiting questions is the admission's, in
`answering`). Each student has one question in service at a time, and the next question served is the
next student's in turn, so a student who sends twenty questions waits behind their own,
not the other students behind them. Everything here runs on the event loop: no locks.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict, deque
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

from bot.errors import ShuttingDownError

PositionCallback = Callable[[int], None]
"""Called on the event loop with how many questions are ahead of this one, whenever that changes."""

NOTIFY_EVERY_S = 1.0
"""Positions are recomputed (one pass over the line) at most this often, not on every step."""


class Ticket:
    """One waiting question: its student, and its turn once granted."""

    __slots__ = ("student", "turn", "on_position", "shown", "holds_slot")

    def __init__(self, student: str, turn: asyncio.Future[None], on_position: PositionCallback | None) -> None:
        self.student = student
        self.turn = turn
        self.on_position = on_position
        self.shown: int | None = None
        """The position last told to `on_position`."""
        self.holds_slot = False


class FairLine:
    """At most `capacity` questions in service; the rest wait, round-robin across students.

    >>> async with line.turn("slack:U1", on_position=show) as ticket:   # doctest: +SKIP
    ...     ...  # this student's question is served now
    """

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self._waiting: OrderedDict[str, deque[Ticket]] = OrderedDict()
        """Students with questions waiting, in the order their turns come round; each one's questions in order."""
        self._in_service: set[str] = set()
        """Students with a question in service: their next one waits for it to end."""
        self._slots = 0
        self._count = 0
        self._closed = False
        self._notify: asyncio.TimerHandle | None = None

    @property
    def waiting(self) -> int:
        """Questions waiting for their turn."""
        return self._count

    @property
    def in_service(self) -> int:
        """Questions holding a slot now."""
        return self._slots

    def ahead_of_new(self, student: str) -> int:
        """How many waiting questions a question of `student` joining now would have ahead of it:
        in every round before its own, one of each student with that many waiting; in its round,
        those of the students before it."""
        depth = len(self._waiting.get(student, ()))
        ahead, before = 0, True
        for other, tickets in self._waiting.items():
            if other == student:
                before = False
                ahead += depth
            else:
                ahead += min(len(tickets), depth) + int(before and len(tickets) > depth)
        return ahead

    @asynccontextmanager
    async def turn(self, student: str, on_position: PositionCallback | None = None) -> AsyncIterator[Ticket]:
        """Wait for this student's turn, and hold it (a slot, and the student's one place in service) until the block ends."""
        ticket = self.join(student, on_position)
        try:
            await ticket.turn
        except BaseException:
            self._leave(ticket)
            raise
        try:
            yield ticket
        finally:
            self.release(ticket)
            self._in_service.discard(student)
            self._dispatch()

    def join(self, student: str, on_position: PositionCallback | None) -> Ticket:
        if self._closed:
            raise ShuttingDownError("The service is stopping; ask again in a minute.")
        ticket = Ticket(student, asyncio.get_running_loop().create_future(), on_position)
        self._waiting.setdefault(student, deque()).append(ticket)
        self._count += 1
        self._dispatch()
        if not ticket.turn.done():
            self._schedule_notify()
        return ticket

    def release(self, ticket: Ticket) -> None:
        """Give the slot back early (the student stays in service until the turn ends): the work
        still to do no longer needs what the slot bounds."""
        if ticket.holds_slot:
            ticket.holds_slot = False
            self._slots -= 1
            self._dispatch()

    def close(self) -> int:
        """Take no more questions; those still waiting get `ShuttingDownError`. Returns how many."""
        self._closed = True
        told = 0
        for tickets in self._waiting.values():
            for ticket in tickets:
                if not ticket.turn.done():
                    ticket.turn.set_exception(ShuttingDownError("The service is restarting; ask again in a minute."))
                    told += 1
        self._waiting.clear()
        self._count = 0
        if self._notify is not None:
            self._notify.cancel()
        return told

    def _leave(self, ticket: Ticket) -> None:
        """A waiter that gave up (its task was cancelled) leaves the line, or gives back the turn it was just granted."""
        tickets = self._waiting.get(ticket.student)
        if tickets is not None and ticket in tickets:
            tickets.remove(ticket)
            self._count -= 1
            if not tickets:
                del self._waiting[ticket.student]
        elif ticket.turn.done() and not ticket.turn.cancelled() and ticket.turn.exception() is None:
            self.release(ticket)
            self._in_service.discard(ticket.student)
        self._dispatch()

    def _dispatch(self) -> None:
        """Grant turns while slots are free: the first student in turn order with nothing in service goes next,
        then moves to the back of the order."""
        while self._slots < self.capacity and self._count:
            student = next((s for s in self._waiting if s not in self._in_service), None)
            if student is None:
                return
            tickets = self._waiting[student]
            ticket = tickets.popleft()
            self._count -= 1
            if tickets:
                self._waiting.move_to_end(student)
            else:
                del self._waiting[student]
            if ticket.turn.done():  # its waiter was cancelled and has not left the line yet: skip it
                continue
            self._in_service.add(student)
            self._slots += 1
            ticket.holds_slot = True
            ticket.turn.set_result(None)

    def positions(self) -> dict[Ticket, int]:
        """Each waiting ticket and the number of questions ahead of it: round by round, one per student."""
        order: dict[Ticket, int] = {}
        queues = [list(tickets) for tickets in self._waiting.values()]
        depth = 0
        while queues:
            for tickets in queues:
                order[tickets[depth]] = len(order)
            depth += 1
            queues = [tickets for tickets in queues if len(tickets) > depth]
        return order

    def _schedule_notify(self) -> None:
        if self._notify is None:
            self._notify = asyncio.get_running_loop().call_later(NOTIFY_EVERY_S, self._tell_positions)

    def _tell_positions(self) -> None:
        self._notify = None
        for ticket, ahead in self.positions().items():
            if ticket.on_position is not None and ticket.shown != ahead:
                ticket.shown = ahead
                ticket.on_position(ahead)
        if self._count:
            self._schedule_notify()
