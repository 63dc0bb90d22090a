"""The escalation store's contract, on SQLite and a real PostgreSQL (the `database` fixture)."""

from __future__ import annotations

import threading

from bot.store.database import Database
from bot.store.escalations import EscalationStore, NewEscalation
from models import Citation, ReplyPlace, Turn

PLACE = ReplyPlace(platform="discord", channel="1234567890123456789", link="https://discord.com/channels/1/2/3")


def new(question: str = "When is the midterm?", course: str = "cs101") -> NewEscalation:
    return NewEscalation(
        course=course,
        question=question,
        reason="not covered",
        place=PLACE,
        student="Student 0A1B",
        context=(Turn(role="user", text="hi"), Turn(role="assistant", text="hello")),
        draft="Maybe week 8?",
        sources=(Citation(n=1, title="Syllabus", source="syllabus.md", url="https://example.edu/syllabus.html"),),
    )


def test_an_escalation_keeps_everything_needed_to_answer_later(database: Database) -> None:
    store = EscalationStore(database)
    opened = store.open(new(), now=1_700_000_000)
    again = EscalationStore(database).get(opened.id)  # another replica, or after a restart
    assert again == opened
    assert again.status == "open" and again.place == PLACE and again.context[1].text == "hello"
    assert again.sources[0].url == "https://example.edu/syllabus.html" and again.draft == "Maybe week 8?"
    assert again.created_at.timestamp() == 1_700_000_000 and not again.reposted
    assert store.get(opened.id + 100) is None

    store.set_queue_message(opened.id, "CTA:1700000100.000001")
    assert store.by_queue_message("CTA:1700000100.000001").id == opened.id
    assert store.by_queue_message("CTA:nope") is None


def test_the_first_answer_wins_and_the_second_gets_nothing(database: Database) -> None:
    store = EscalationStore(database)
    opened = store.open(new())
    first = store.close(opened.id, "answered", "Grace", "Week 8, Thursday.", now=1_700_000_600)
    assert first is not None and first.status == "answered" and first.answered_by == "Grace" and first.answer == "Week 8, Thursday."
    assert store.close(opened.id, "dismissed", "Alan") is None, "closed already"
    assert store.claim(opened.id, "Alan") is None, "a closed question cannot be claimed"
    assert store.get(opened.id).answered_by == "Grace"
    assert store.close(opened.id + 100, "answered", "Grace", "x") is None, "unknown"


def test_of_many_tas_clicking_at_once_exactly_one_wins(database: Database) -> None:
    store = EscalationStore(database)
    opened = store.open(new())
    winners: list[str] = []
    start = threading.Barrier(8)

    def click(ta: str) -> None:
        start.wait()
        if EscalationStore(database).close(opened.id, "answered", ta, f"answer by {ta}") is not None:
            winners.append(ta)

    clickers = [threading.Thread(target=click, args=(f"TA{n}",)) for n in range(8)]
    for clicker in clickers:
        clicker.start()
    for clicker in clickers:
        clicker.join()
    assert len(winners) == 1
    assert store.get(opened.id).answer == f"answer by {winners[0]}"


def test_open_ones_are_listed_oldest_first_and_a_stale_one_is_reposted_once(database: Database) -> None:
    store = EscalationStore(database)
    later = store.open(new("later"), now=2_000)
    earlier = store.open(new("earlier"), now=1_000)
    other = store.open(new("other course", course="cs202"), now=1_500)
    closed = store.open(new("closed"), now=500)
    store.close(closed.id, "dismissed", "Grace")
    assert [e.question for e in store.open_ones()] == ["earlier", "other course", "later"]
    assert [e.id for e in store.open_ones("cs101")] == [earlier.id, later.id]
    assert store.mark_reposted(earlier.id) and not store.mark_reposted(earlier.id)
    assert store.get(earlier.id).reposted and not store.mark_reposted(closed.id)
    assert other.course == "cs202"


def test_a_claim_and_a_delivery_problem_are_kept(database: Database) -> None:
    store = EscalationStore(database)
    opened = store.open(new())
    assert store.claim(opened.id, "UTA1").claimed_by == "UTA1"
    store.close(opened.id, "answered", "Grace", "Week 8.")
    store.note_delivery_problem(opened.id, "the student's thread was deleted")
    kept = store.get(opened.id)
    assert kept.delivery_problem == "the student's thread was deleted" and kept.answer == "Week 8."


def test_a_pseudonym_is_stable_per_course_and_differs_between_courses(database: Database) -> None:
    store, other_replica = EscalationStore(database), EscalationStore(database)
    ada = store.pseudonym("cs101", "discord:42")
    assert ada.startswith("Student ") and len(ada) == len("Student 4F2A9C")
    assert other_replica.pseudonym("cs101", "discord:42") == ada
    assert store.pseudonym("cs101", "discord:43") != ada
    assert store.pseudonym("cs202", "discord:42") != ada, "a student is not linkable across courses"


def test_the_digest_counts_a_period_escalations_and_ta_answers(database: Database) -> None:
    store = EscalationStore(database)
    answered = store.open(new(), now=1_700_000_000)
    store.open(new("Is there a Java track?"), now=1_700_000_100)
    dismissed = store.open(new("Where do I park?"), now=1_700_000_200)
    store.open(new("Other course", course="cs202"), now=1_700_000_300)
    store.close(answered.id, "answered", "Grace", "Week 8.", now=1_700_000_400)
    store.close(dismissed.id, "dismissed", "Grace", now=1_700_000_500)
    assert store.counted("cs101", 1_700_000_000, 1_700_001_000) == (3, 1)
    assert store.counted("cs101", 1_700_000_050, 1_700_000_450) == (2, 1), "escalated and answered each in its own window"
    assert store.counted("cs101", 1_800_000_000, 1_800_001_000) == (0, 0)
