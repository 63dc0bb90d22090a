"""What is read of an attached file, and what the student is told of the rest."""

from __future__ import annotations

import asyncio

from bot.service.attachments import compose, decode, is_text, read_attachments, triage
from bot.service.notices import attachment_notice, paste_the_text
from models import Attachment

LIMIT = 100_000
PNG = Attachment(name="error.png", content_type="image/png", size=48_000)
CODE = Attachment(name="loop.py", content_type="application/octet-stream", size=40)
LOG = Attachment(name="trace.log", content_type="text/plain; charset=utf-8", size=25_000_000)
PDF = Attachment(name="notes.pdf", content_type="application/pdf", size=2_000)


def test_only_text_and_code_files_within_the_limit_are_wanted() -> None:
    assert is_text(CODE) and is_text(LOG) and not is_text(PNG) and not is_text(PDF)
    assert [triage(a, LIMIT).unread for a in (PNG, CODE, LOG, PDF)] == ["image", None, "too_large", "not_text"]
    assert triage(CODE, 0).unread == "too_large", "max_bytes = 0 reads nothing"


def test_bytes_are_read_as_utf8_text_or_refused() -> None:
    assert decode(CODE, "print('héllo')\n".encode(), LIMIT).text == "print('héllo')\n"
    assert decode(CODE, b"\xff\xfe\x00binary", LIMIT).unread == "not_text"
    assert decode(CODE, None, LIMIT).unread == "unreadable"
    assert decode(CODE, b"x" * 11, 10).unread == "too_large", "a size the platform understated is caught after the download"


def test_only_wanted_files_are_downloaded() -> None:
    asked: list[str] = []

    async def download(attachment: Attachment) -> bytes | None:
        asked.append(attachment.name)
        return b"break\n"

    read = asyncio.run(read_attachments([PNG, CODE, LOG], download, LIMIT))
    assert asked == ["loop.py"]
    assert [(a.name, a.text, a.unread) for a in read] == [("error.png", None, "image"), ("loop.py", "break\n", None), ("trace.log", None, "too_large")]


def test_files_read_join_the_question_within_its_length_limit() -> None:
    code = CODE.model_copy(update={"text": "for n in range(10):\n    break\n"})
    composed = compose("why does it stop?", [code, PNG], max_chars=4000, title="Loop stops early")
    assert composed.text == "Loop stops early\nwhy does it stop?\n\nloop.py:\n```\nfor n in range(10):\n    break\n```"
    assert not composed.asked_nothing and composed.attachments[1] == PNG

    long = CODE.model_copy(update={"text": "x = 1\n" * 1000})
    cut = compose("why?", [long], max_chars=200)
    assert len(cut.text) <= 200 and cut.attachments[0].cut
    assert attachment_notice(cut.attachments, LIMIT) == "loop.py is longer than I can read along with the question, so I read only its beginning."


def test_a_screenshot_alone_is_asked_for_its_text_even_under_a_title() -> None:
    assert compose("", [PNG], 4000, title="Error help").asked_nothing
    assert not compose("", [CODE.model_copy(update={"text": "break"})], 4000).asked_nothing, "a code file alone is a question"
    assert not compose("", [], 4000).asked_nothing, "nothing at all gets the help text, not this"
    assert "error.png" in paste_the_text([PNG]) and "paste the error message" in paste_the_text([PNG])


def test_the_notice_names_each_file_not_read_and_why() -> None:
    notice = attachment_notice([triage(a, LIMIT) for a in (PNG, LOG, PDF)], LIMIT)
    assert notice is not None
    assert "I can't look at images, so I didn't read error.png" in notice
    assert "I didn't download trace.log (25.0 MB): I read text and code files up to 100 kB." in notice
    assert "I only read text and code files, so I didn't read notes.pdf." in notice
    assert attachment_notice([CODE.model_copy(update={"text": "x"})], LIMIT) is None
