"""The chat page in a real headless Chromium against the real web platform (sample course,
packaged SmolLM2): streaming, citations that open, feedback, threads, and text that stays text."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.app import MentorApp
from bot.config.sections import AnswerSettings, LlmSettings
from bot.config.settings import Settings
from models import Course
from tests.adapters.web_helpers import ServedInThread
from tests.conftest import example_course_app

CHROMIUM = shutil.which("chromium") or ("/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else None)
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="no Chromium here: apt-get install chromium (CI installs it)")

sync_api = pytest.importorskip("playwright.sync_api")

QUESTION = "How do I make a loop stop early?"
TIMEOUT_MS = 60_000
IMG = "<img src=x onerror=window.__xss=1>"
SCRIPT = "<script>window.__xss=2</script>"
# Records every state an answer passes through, so a short-lived "streaming" is not missed.
WATCH_STATES = """
window.__states = [];
new MutationObserver((changes) => {
  for (const change of changes) {
    const target = change.target;
    if (target.nodeType === 1 && target.matches(".msg.bot")) window.__states.push(target.dataset.state);
    for (const added of change.addedNodes) {
      if (added.nodeType === 1 && added.matches(".msg.bot")) window.__states.push(added.dataset.state);
    }
  }
}).observe(document, { subtree: true, childList: true, attributes: true, attributeFilter: ["data-state"] });
"""


@pytest.fixture(scope="module")
def mentor(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MentorApp]:
    app = example_course_app(tmp_path_factory.mktemp("web-browser"))
    yield app
    app.close()


@pytest.fixture(scope="module")
def hostile(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MentorApp]:
    """A course whose material carries markup, with a model file that is missing: answers are
    the passages themselves (retrieval only, as `answer.mode = "generate"` falls back), so the
    markup reaches the page in the answer's text and in the citation's title."""
    root = tmp_path_factory.mktemp("hostile")
    course = root / "materials"
    course.mkdir()
    (course / "loops.md").write_text(
        f"---\ntitle: Loops {IMG}\n---\n\n# Stopping a loop early {IMG}\n\n"
        f"To stop a loop early, use the break statement {IMG} inside the loop body. "
        "A while loop or a for loop ends at once when break runs, and the program continues after the loop.\n",
        encoding="utf-8",
    )
    settings = Settings(
        data_dir=root / "data",
        courses=[Course(name="hostile", sources=(course,))],
        llm=LlmSettings(model=str(root / "missing.gguf")),
        answer=AnswerSettings(mode="generate"),
    )
    app = MentorApp(settings)
    app.ingest("hostile")
    yield app
    app.close()


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    with sync_api.sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=[
                "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                "--disable-background-networking", "--disable-component-update", "--disable-sync",
            ],
        )
        yield chromium
        chromium.close()


def open_page(browser, url: str):  # type: ignore[no-untyped-def]
    context = browser.new_context()
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    page.add_init_script(WATCH_STATES)
    csp_violations: list[str] = []
    page.on("console", lambda message: csp_violations.append(message.text) if "Content Security Policy" in message.text else None)
    page.goto(url)
    page.wait_for_selector("body[data-ready=true]")
    return context, page, csp_violations


def ask(page, text: str, answers_before: int):  # type: ignore[no-untyped-def]
    page.fill("#question", text)
    with page.expect_request("**/api/ask") as request:
        page.press("#question", "Enter")
    page.wait_for_selector(f".msg.bot >> nth={answers_before}")
    page.wait_for_function(
        "n => { const bots = document.querySelectorAll('.msg.bot'); return bots.length > n && ['done', 'error'].includes(bots[n].dataset.state); }",
        arg=answers_before,
    )
    return page.locator(".msg.bot").nth(answers_before), request.value.post_data_json


def test_a_student_asks_sees_the_answer_stream_follows_a_citation_votes_and_asks_a_follow_up(
    mentor: MentorApp, browser
) -> None:  # type: ignore[no-untyped-def]
    with ServedInThread(mentor) as served:
        context, page, csp_violations = open_page(browser, served.url)
        assert page.locator("#course option").all_inner_texts() == ["cs101"]
        page.select_option("#course", "cs101")
        assert page.locator("#notice").is_visible()  # the demo model never passes unnoticed

        answer, sent = ask(page, QUESTION, 0)
        assert sent["course"] == "cs101" and sent["history"] == []
        assert answer.get_attribute("data-state") == "done"
        states = page.evaluate("window.__states")
        assert states[0] == "looking" and "streaming" in states, states
        assert answer.locator(".body").inner_text().strip()
        link = answer.locator(".sources a").first
        href = link.get_attribute("href")
        assert href.startswith(served.url + "/files/cs101/") and link.get_attribute("rel") == "noopener noreferrer"

        with context.expect_event("response", lambda r: "/files/cs101/" in r.url) as opened:
            link.click()
        response = opened.value
        assert response.status == 200
        expected = {".pdf": "application/pdf", ".html": "text/html", ".md": "text/plain"}[Path(href.split("#")[0]).suffix]
        assert response.headers["content-type"].startswith(expected)

        answer.locator("button.vote-up").click()
        page.wait_for_selector(".msg.bot button.vote-up[aria-pressed=true]")
        user = page.evaluate("localStorage.getItem('mentor.user')")
        votes = served.commands.questions.feedback()
        assert [(v.platform, v.user, v.vote, v.question.text) for v in votes] == [("web", user, 1, QUESTION)]

        follow_up, sent = ask(page, "And how do I skip just one round?", 1)
        assert [turn["role"] for turn in sent["history"]] == ["user", "assistant"]
        assert sent["history"][0]["text"] == QUESTION
        assert follow_up.get_attribute("data-state") == "done"

        page.click("#new-thread")
        assert page.locator(".msg").count() == 0
        _, sent = ask(page, "", 0)  # an empty question gets the help, in a fresh thread
        assert sent["history"] == []
        assert "Ask me about the course materials" in page.locator(".msg.bot").first.inner_text()
        assert csp_violations == []
        context.close()


def test_markup_in_questions_answers_and_titles_is_shown_as_text(hostile: MentorApp, browser) -> None:  # type: ignore[no-untyped-def]
    with ServedInThread(hostile) as served:
        context, page, csp_violations = open_page(browser, served.url)
        answer, _ = ask(page, f"How do I stop a loop early with break? {SCRIPT}", 0)
        assert answer.get_attribute("data-kind") == "retrieval_only"
        assert "Passages from the course materials" in answer.locator(".kind").inner_text()
        assert SCRIPT in page.locator(".msg.user").first.inner_text()
        assert IMG in answer.locator(".body").inner_text()
        assert IMG in answer.locator(".sources").inner_text()  # the citation's title
        page.wait_for_timeout(500)
        assert page.evaluate("typeof window.__xss") == "undefined"
        assert page.locator("#thread img, #thread script").count() == 0
        assert csp_violations == []
        context.close()


def test_a_quoted_answer_marks_its_sentence_in_context_and_its_markup_stays_text(
    hostile: MentorApp, browser, monkeypatch: pytest.MonkeyPatch
) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setattr(hostile, "settings", hostile.settings.model_copy(update={"answer": AnswerSettings(mode="quote")}))
    with ServedInThread(hostile) as served:
        context, page, csp_violations = open_page(browser, served.url)
        answer, _ = ask(page, "How do I stop a loop early?", 0)
        assert answer.get_attribute("data-kind") == "quote"
        assert "no model wrote this answer" in answer.locator(".kind").inner_text()
        assert "The course materials say:" in answer.locator(".body").inner_text()
        answer.locator(".passage summary").first.click()
        marked = answer.locator(".passage mark").all_inner_texts()
        assert marked and all(text in answer.locator(".body").inner_text() for text in marked)
        assert any(IMG in text for text in marked), "the quoted sentence, markup and all, as text"
        page.wait_for_timeout(500)
        assert page.evaluate("typeof window.__xss") == "undefined"
        assert page.locator("#thread img, #thread script").count() == 0
        assert csp_violations == []
        context.close()
