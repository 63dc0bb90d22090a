"""The `mentor` command line, end to end on Milvus Lite and the packaged MiniLM."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from bot.cli import app
from rag.milvus_lock import MilvusLiteLock
from tests.conftest import REPO, free_port, read_until
from tests.rag.crash_gguf import write_crashing_gguf

LOOPS = "# Loops\n\n## Break\n\nThe break statement stops the innermost loop early.\n\n## Range\n\nrange(5) counts from 0 to 4.\n"


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    monkeypatch.chdir(tmp_path)
    for name in list(os.environ):
        if name.startswith("MENTOR_"):
            monkeypatch.delenv(name)
    return {"MENTOR_DATA_DIR": str(tmp_path / "state")}


@pytest.fixture
def materials(tmp_path: Path) -> Path:
    root = tmp_path / "notes"
    root.mkdir()
    (root / "loops.md").write_text(LOOPS, encoding="utf-8")
    return root


def mentor(env: dict[str, str], *args: str, stdin: str | None = None):
    return CliRunner().invoke(app, list(args), env=env, input=stdin, catch_exceptions=False)


def test_ingest_a_folder_then_search_it_as_json(env: dict[str, str], materials: Path) -> None:
    ingested = mentor(env, "ingest", str(materials))
    assert ingested.exit_code == 0, ingested.output
    assert "default: 1 added, 0 changed, 0 removed, 0 unchanged, 0 failed; 2 chunks written" in ingested.output

    found = mentor(env, "search", "how do I leave a loop early?", "--json", "-k", "1")
    assert found.exit_code == 0, found.output
    result = json.loads(found.output)
    assert result["query"] == "how do I leave a loop early?"
    (hit,) = result["hits"]
    assert set(hit) == {"source", "page", "page_label", "anchor", "title", "url", "score", "text"}
    assert (hit["source"], hit["anchor"], hit["page"], hit["url"]) == ("loops.md", "break", None, None)

    again = mentor(env, "ingest")
    assert "0 added, 0 changed, 0 removed, 1 unchanged" in again.output, "the folder given once is remembered"


def test_search_reads_questions_from_stdin_one_json_line_each(env: dict[str, str], materials: Path) -> None:
    mentor(env, "ingest", str(materials))
    result = mentor(env, "search", "-", "--json", "-k", "1", stdin="how do I leave a loop early?\n\nwhat does range(5) give?\n")
    lines = [json.loads(line) for line in result.output.splitlines()]
    assert [line["hits"][0]["anchor"] for line in lines] == ["break", "range"]


def test_status_shows_documents_chunks_and_the_last_ingest(env: dict[str, str], materials: Path) -> None:
    mentor(env, "ingest", str(materials))
    status = json.loads(mentor(env, "status", "--json").output)
    (course,) = status["courses"]
    assert (course["course"], course["documents"], course["chunks"]) == ("default", 1, 2)
    assert course["sources"] == [str(materials.resolve())]
    assert course["last_report"]["added"] == ["loops.md"]
    assert status["index"].endswith("state/milvus.db")
    assert status["engine"].startswith("milvus-lite ") and status["engine"].endswith("(embedded)"), "the engine in use is named"
    model = status["model"]
    assert (model["name"], model["ready"], model["demo"], model["gpu_offload"]) == ("smollm2-135m-instruct", True, True, False)


def test_status_never_shows_the_credentials_in_a_git_url(env: dict[str, str], tmp_path: Path) -> None:
    (tmp_path / "mentor.toml").write_text(
        '[[courses]]\nname = "cs101"\nrepository = "https://oauth2:glpat-S3CRET@git.example.edu/cs101/notes.git"\nbranch = "main"\n'
    )
    shown = mentor(env, "status", "--json").output
    assert json.loads(shown)["courses"][0]["repository"] == "https://***@git.example.edu/cs101/notes.git"
    text = mentor(env, "status").stdout
    assert "fetched from https://***@git.example.edu/cs101/notes.git, branch main" in " ".join(text.split())
    assert "S3CRET" not in shown + text and "oauth2" not in shown + text


def test_status_says_loudly_when_the_demo_model_answers_and_when_a_model_is_missing(env: dict[str, str]) -> None:
    demo = " ".join(mentor(env, "status").stdout.split())
    assert "this is the small demo model" in demo and "mentor models download mistral-7b-instruct" in demo
    missing = " ".join(mentor({**env, "MENTOR_LLM__MODEL": "mistral-7b-instruct"}, "status").stdout.split())
    assert "not ready:" in missing and "does not exist" in missing and "demo model" not in missing


def test_status_shows_a_reranker_that_cannot_load(env: dict[str, str], tmp_path: Path) -> None:
    broken = {**env, "MENTOR_SEARCH__RERANK": "cross-encoder", "MENTOR_SEARCH__RERANK_MODEL": str(tmp_path / "no-such-model")}
    said = " ".join(mentor(broken, "status").stdout.split())
    assert "reranker: cross-encoder not ready:" in said and "no-such-model" in said and "keeps the first stage's order" in said
    shown = json.loads(mentor(broken, "status", "--json").output)["reranker"]
    assert (shown["name"], shown["ready"]) == ("cross-encoder", False)
    assert json.loads(mentor(env, "status", "--json").output)["reranker"]["ready"] is True


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("search", "   "), "The question is empty"),
        (("search", "loops", "--course", "cs999"), "No course named 'cs999'"),
        (("search", "loops"), "has no index yet: run `mentor ingest --course default`"),
        (("ingest", "does-not-exist"), "Source folder not found"),
        (("search", "loops", "--mode", "fuzzy"), "--mode must be hybrid, dense or bm25"),
    ],
)
def test_bad_input_gets_one_clear_line_and_exit_code_2(env: dict[str, str], args: tuple[str, ...], message: str) -> None:
    result = mentor(env, *args)
    assert result.exit_code == 2
    assert message in " ".join(result.output.split())
    assert "Traceback" not in result.output


def test_a_failed_file_is_reported_and_sets_exit_code_1(env: dict[str, str], materials: Path) -> None:
    (materials / "broken.pdf").write_bytes(b"not a pdf at all")
    result = mentor(env, "ingest", str(materials))
    assert result.exit_code == 1
    assert "1 added" in result.output and "failed broken.pdf:" in result.output


def test_a_milvus_uri_that_does_not_answer(env: dict[str, str], materials: Path) -> None:
    env = {**env, "MENTOR_MILVUS_URI": f"http://127.0.0.1:{free_port()}", "MENTOR_MILVUS_TIMEOUT": "2"}
    result = mentor(env, "ingest", str(materials))
    assert result.exit_code == 2
    assert "Cannot open Milvus at http://127.0.0.1:" in " ".join(result.output.split())


def test_a_second_process_is_told_who_holds_the_database(env: dict[str, str], tmp_path: Path) -> None:
    holder = MilvusLiteLock(tmp_path / "state" / "milvus.db")
    holder.acquire()
    try:
        result = subprocess.run(
            [sys.executable, "-m", "bot.cli", "status"],
            env={**os.environ, **env, "PYTHONPATH": str(Path(__file__).resolve().parents[2])},
            capture_output=True,
            text=True,
            timeout=120,
        )
    finally:
        holder.release()
    message = " ".join(result.stderr.split())
    assert result.returncode == 2, result.stderr
    assert f"is open in process {os.getpid()}" in message
    assert "MENTOR_MILVUS_URI" in message and "Traceback" not in message


def test_ask_answers_from_the_materials_with_its_sources_as_json(env: dict[str, str], materials: Path) -> None:
    mentor(env, "ingest", str(materials))
    generate = {**env, "MENTOR_ANSWER__MODE": "generate", "MENTOR_LLM__TEMPERATURE": "0", "MENTOR_LLM__MAX_TOKENS": "48"}
    asked = mentor(generate, "ask", "--json", "how do I leave a loop early?")
    assert asked.exit_code == 0, asked.output
    answer = json.loads(asked.stdout)
    assert set(answer) == {"answer", "citations", "grounded", "kind", "model", "notice", "timings"}
    assert answer["kind"] == "answer" and answer["grounded"] is True and answer["answer"]
    assert answer["citations"][0]["source"] == "loops.md" and answer["citations"][0]["anchor"] == "break"
    assert set(answer["citations"][0]) == {"n", "title", "source", "page", "page_label", "anchor", "url", "see_also", "quotes"}


def test_with_only_the_demo_model_ask_quotes_the_materials_word_for_word(env: dict[str, str], materials: Path) -> None:
    mentor(env, "ingest", str(materials))
    asked = mentor(env, "ask", "--json", "how do I leave a loop early?")
    assert asked.exit_code == 0, asked.output
    answer = json.loads(asked.stdout)
    assert answer["kind"] == "quote" and answer["grounded"] is True and answer["model"] is None
    assert answer["answer"].startswith("The course materials say:")
    assert "\u201cThe break statement stops the innermost loop early.\u201d [1]" in answer["answer"]
    cited, *consulted = answer["citations"]
    assert (cited["source"], cited["anchor"], cited["quotes"]) == ("loops.md", "break", ["The break statement stops the innermost loop early."])
    assert not cited["see_also"] and all(c["see_also"] and not c["quotes"] for c in consulted)
    shown = " ".join(mentor(env, "ask", "how do I leave a loop early?").stdout.split())
    assert "quoted word for word from the course materials" in shown and "demo model" not in shown
    assert set(answer["timings"]) == {"retrieve_ms", "generate_ms", "first_token_ms"}


def test_ask_streams_then_lists_its_sources_and_owns_up_to_the_demo_model(env: dict[str, str], materials: Path) -> None:
    mentor(env, "ingest", str(materials))
    asked = mentor({**env, "MENTOR_ANSWER__MODE": "generate", "MENTOR_LLM__MAX_TOKENS": "32"}, "ask", "--stream", "what does range(5) count?")
    assert asked.exit_code == 0, asked.output
    assert "loops.md" in asked.stdout
    assert "demo model smollm2-135m-instruct" in " ".join(asked.stdout.split())


def test_ask_about_something_the_course_lacks_says_so(env: dict[str, str], materials: Path) -> None:
    mentor(env, "ingest", str(materials))
    asked = mentor(env, "ask", "--json", "when is the assignment 3 deadline?")
    answer = json.loads(asked.stdout)
    assert (answer["kind"], answer["grounded"], answer["citations"], answer["model"]) == ("not_covered", False, [], None)


def test_ask_without_its_model_file_quotes_or_shows_passages_and_tells_the_operator_why(env: dict[str, str], materials: Path) -> None:
    mentor(env, "ingest", str(materials))
    missing = {**env, "MENTOR_LLM__MODEL": "mistral-7b-instruct"}
    for mode, shown in (("auto", "The course materials say:"), ("generate", "can't write an answer right now")):
        asked = mentor({**missing, "MENTOR_ANSWER__MODE": mode}, "ask", "how do I leave a loop early?")
        assert asked.exit_code == 0, asked.output
        assert shown in asked.stdout and "loops.md" in asked.stdout, mode
        assert "warning:" in asked.stderr and "mentor models download mistral-7b-instruct" in " ".join(asked.stderr.split())


def test_a_model_that_crashes_llama_cpp_is_reported_by_status_and_ask_answers_from_passages(
    env: dict[str, str], materials: Path, tmp_path: Path
) -> None:
    crashing = {**env, "MENTOR_LLM__MODEL": str(write_crashing_gguf(tmp_path / "crash.gguf"))}
    status = mentor(crashing, "status")
    assert status.exit_code == 0, status.output
    said = " ".join(status.stdout.split())
    assert "model: crash.gguf (not loaded)" in said
    assert "not ready: llama.cpp crashed while loading crash.gguf in a test process (killed by SIGABRT" in said
    assert "make llama-cpp" in said and "answers quote the course materials instead" in said
    assert json.loads(mentor(crashing, "status", "--json").stdout)["model"]["probe"]["outcome"] == "crashed"

    mentor(env, "ingest", str(materials))
    asked = mentor(crashing, "ask", "how do I leave a loop early?")
    assert asked.exit_code == 0, asked.output
    assert "The course materials say:" in asked.stdout and "loops.md" in asked.stdout
    assert "SIGABRT" in asked.stderr and "make llama-cpp" in " ".join(asked.stderr.split())

    probed = mentor(crashing, "models", "probe")
    assert probed.exit_code == 1 and "not trusted:" in probed.stderr and "SIGABRT" in probed.stderr


def test_models_probe_checks_the_configured_model_afresh(env: dict[str, str]) -> None:
    probed = mentor(env, "models", "probe", "--json")
    assert probed.exit_code == 0, probed.output
    verdict = json.loads(probed.stdout)
    assert verdict["outcome"] == "ok" and "decoded 4 tokens" in verdict["detail"]
    again = json.loads(mentor(env, "models", "probe", "--json").stdout)
    assert again["probed_at"] > verdict["probed_at"], "a new probe, not the kept verdict"
    status = " ".join(mentor(env, "status").stdout.split())
    assert "trusted: a test process loaded and decoded 4 tokens" in status
    server = mentor({**env, "MENTOR_LLM__BASE_URL": "http://127.0.0.1:9/v1", "MENTOR_LLM__MODEL": "m"}, "models", "probe")
    assert server.exit_code == 2 and "nothing to probe" in server.stderr


@pytest.mark.parametrize(
    ("question", "message"),
    [("   ", "The question is empty"), ("why " * 1100, "the limit is 4,000")],
)
def test_ask_refuses_empty_and_over_long_questions(env: dict[str, str], materials: Path, question: str, message: str) -> None:
    mentor(env, "ingest", str(materials))
    asked = mentor(env, "ask", question)
    assert asked.exit_code == 2
    assert message in " ".join(asked.stderr.split()) and "Traceback" not in asked.output


def test_models_list_shows_the_packaged_demo_and_what_is_not_downloaded(env: dict[str, str]) -> None:
    listed = mentor(env, "models", "list")
    assert listed.exit_code == 0, listed.output
    text = " ".join(listed.stdout.split())
    assert "* smollm2-135m-instruct" in text and "SmolLM2-135M-Instruct.Q4_1.gguf" in text
    assert "not downloaded: mentor models download mistral-7b-instruct" in text


def test_models_download_refuses_an_unknown_name(env: dict[str, str]) -> None:
    result = mentor(env, "models", "download", "gpt-5")
    assert result.exit_code == 2 and "mistral-7b-instruct" in result.stderr


def test_reindex_and_history_go_through_the_service(env: dict[str, str], materials: Path) -> None:
    mentor(env, "ingest", str(materials))
    ran = mentor(env, "reindex", "--json")
    assert ran.exit_code == 0, ran.output
    run = json.loads(ran.stdout)
    assert (run["trigger"], run["outcome"], run["report"]["unchanged"]) == ("cli", "ok", ["loops.md"])
    runs = json.loads(mentor(env, "history", "--json").stdout)
    assert [r["id"] for r in runs] == [run["id"]]
    assert "[ok]" in mentor(env, "history").stdout
    refused = mentor(env, "reindex", "--course", "cs999")
    assert refused.exit_code == 2 and "No course named 'cs999'" in refused.stderr


def test_an_invalid_schedule_stops_every_command_naming_the_course_and_key(env: dict[str, str], materials: Path) -> None:
    courses = json.dumps([{"name": "cs101", "sources": [str(materials)], "schedule": "0 25 * * *"}])
    result = mentor({**env, "MENTOR_COURSES": courses}, "status")
    assert result.exit_code == 2
    assert "courses.0.schedule (course 'cs101')" in " ".join(result.stderr.split())


def test_serve_shares_the_index_with_other_commands_and_stops_cleanly_on_sigterm(
    env: dict[str, str], materials: Path, tmp_path: Path
) -> None:
    courses = json.dumps([{"name": "cs101", "sources": [str(materials)]}])
    full_env = {
        **os.environ,
        **env,
        "MENTOR_COURSES": courses,
        "GRPC_VERBOSITY": "NONE",
        "MENTOR_WEB__PORT": str(free_port()),
        "MENTOR_HEALTH__PORT": str(free_port()),
    }
    server = subprocess.Popen(
        [sys.executable, "-m", "bot.cli", "serve"], cwd=REPO, env=full_env, stderr=subprocess.PIPE, text=True
    )
    try:
        assert server.stderr is not None
        lines = read_until(server.stderr, "serving")
        assert "shared with other mentor commands at http://127.0.0.1:" in lines[0], lines
        assert any("next reindex" in line for line in lines), lines

        ran = mentor({**env, "MENTOR_COURSES": courses}, "reindex", "--json")
        assert ran.exit_code == 0, ran.output
        assert json.loads(ran.stdout)["report"]["added"] == ["loops.md"]
        found = mentor({**env, "MENTOR_COURSES": courses}, "search", "--json", "how do I leave a loop early?")
        assert json.loads(found.stdout)["hits"][0]["source"] == "loops.md"

        server.send_signal(signal.SIGTERM)
        assert server.wait(timeout=60) == 0
        assert "stopped" in server.stderr.read()
    finally:
        server.kill()
    again = mentor({**env, "MENTOR_COURSES": courses}, "status", "--json")
    assert json.loads(again.stdout)["courses"][0]["documents"] == 1, "after serve stops, commands open the file directly"


def test_calendar_prints_the_term_as_the_config_sets_it(env: dict[str, str], tmp_path: Path) -> None:
    root = tmp_path / "term"
    for relative in ("syllabus.md", "week-01/intro.md", "week-40/review.md", "homework/hw1-solution.md"):
        (root / relative).parent.mkdir(parents=True, exist_ok=True)
        (root / relative).write_text(f"# {relative}\n\nSome words about {relative}.\n", encoding="utf-8")
    (tmp_path / "mentor.toml").write_text(
        '[[courses]]\nname = "cs101"\nsources = ["term"]\ntimezone = "America/New_York"\nstart_date = 2020-01-06\n'
        '[courses.releases]\n"homework/*-solution.md" = 2099-05-01T17:00:00\n"labs/**" = 2020-02-01\n'
        '[[courses.assignments]]\nname = "HW1"\nfiles = ["homework/hw1*"]\ndue = 2099-05-01T17:00:00\nbefore = "concepts"\n'
        '[[courses.exams]]\nname = "final"\nstart = 2099-06-01T09:00:00\nend = 2099-06-01T12:00:00\nanswers = "nothing"\n'
    )
    shown = mentor(env, "calendar")
    assert shown.exit_code == 0, shown.output
    lines = [line.strip() for line in shown.output.splitlines()]
    assert lines[0].startswith("cs101  (times in America/New_York; now ")
    assert lines[1:] == [
        "released:",
        "from the start    syllabus.md  (no release date)",
        "2020-01-06 00:00  week-01/intro.md  (week folder week-01)",
        "2020-10-05 00:00  week-40/review.md  (week folder week-40)",
        "next: 2099-05-01 17:00 (1 file(s)); upcoming:",
        "2099-05-01 17:00  homework/hw1-solution.md  (releases 'homework/*-solution.md')",
        "assignment HW1: due 2099-05-01 17:00, concepts before, full after; now concepts",
        "exam final: 2099-06-01 09:00 to 2099-06-01 12:00, answers nothing",
        "warning: releases 'labs/**' matches no file of the course",
    ]
    calendar = json.loads(mentor(env, "calendar", "--json").output)[0]
    assert calendar["next_release"] == {"at": "2099-05-01T17:00:00-04:00", "files": ["homework/hw1-solution.md"]}
    status = json.loads(mentor(env, "status", "--json").output)["courses"][0]
    assert status["next_release"] == calendar["next_release"]
    assert status["assignments"] == [{"name": "HW1", "due": "2099-05-01T17:00:00-04:00", "mode_now": "concepts"}]
