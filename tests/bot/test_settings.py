"""Settings from mentor.toml, .env and MENTOR_ variables; bad config names the wrong key."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.config.settings import load_settings
from bot.errors import ConfigError, UnknownCourseError


@pytest.fixture(autouse=True)
def in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    for name in ("MENTOR_CONFIG", "MENTOR_DATA_DIR", "MENTOR_MILVUS_URI"):
        monkeypatch.delenv(name, raising=False)
    return tmp_path


def test_no_config_at_all_gives_the_default_course_over_the_examples() -> None:
    settings = load_settings()
    course = settings.course()
    assert course.name == "default" and course.sources == (Path("examples/course"),)
    assert settings.milvus_uri_resolved == ".mentor/milvus.db"


def test_toml_courses_with_paths_relative_to_the_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "conf").mkdir()
    (tmp_path / "conf" / "courses.toml").write_text(
        'data_dir = "state"\n[chunking]\nsize = 160\n'
        '[[courses]]\nname = "cs101"\nsources = ["materials", "/srv/labs"]\nbase_url = "https://cs101.example.edu/notes/"\n'
        '[[courses]]\nname = "stats-200"\nsources = ["stats"]\n'
    )
    monkeypatch.setenv("MENTOR_CONFIG", "conf/courses.toml")
    monkeypatch.setenv("MENTOR_CHUNKING__OVERLAP", "24")
    settings = load_settings()
    assert settings.data_dir == Path("conf/state")
    assert (settings.chunking.size, settings.chunking.overlap) == (160, 24)
    cs101 = settings.course("cs101")
    assert cs101.sources == (Path("conf/materials"), Path("/srv/labs"))
    assert cs101.base_url == "https://cs101.example.edu/notes"
    assert settings.course().name == "cs101"
    assert settings.course_names() == ["cs101", "stats-200"]


def test_env_overrides_the_file_and_dotenv_is_read(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "mentor.toml").write_text('milvus_uri = "http://from-file:19530"\n')
    (tmp_path / ".env").write_text("MENTOR_MILVUS_URI=http://from-dotenv:19530\nMENTOR_SEARCH__K=7\n")
    assert load_settings().milvus_uri == "http://from-dotenv:19530"
    monkeypatch.setenv("MENTOR_MILVUS_URI", "http://from-env:19530")
    settings = load_settings()
    assert settings.milvus_uri == "http://from-env:19530" and settings.search.k == 7


@pytest.mark.parametrize(
    ("toml", "message"),
    [
        ("[chunking]\nsize = 100\noverlp = 3\n", r"chunking\.overlp: unknown setting"),
        ("[chunking]\nsize = 100\noverlap = 100\n", r"overlap \(100\) must be smaller than chunking\.size"),
        ('[[courses]]\nname = "CS 101"\nsources = ["x"]\n', r"courses\.0\.name: a course name is"),
        ('[[courses]]\nname = "cs101"\n', r"courses\.0: a course needs `sources` \(folders\) or a `repository`"),
        ('[[courses]]\nname = "cs101"\nsources = ["."]\nschedule = "every day"\n', r"courses\.0\.schedule \(course 'cs101'\): schedule 'every day' is not a cron"),
        ('[[courses]]\nname = "cs101"\nsources = ["."]\ntimezone = "Europe/Atlantis"\n', r"courses\.0\.timezone \(course 'cs101'\): timezone 'Europe/Atlantis'"),
        ('[[courses]]\nname = "cs101"\nsources = ["x"]\nbase_url = "ftp://x"\n', r"courses\.0\.base_url: base_url must start with http"),
        ('[[courses]]\nname = "cs101"\nsources = ["x"]\nexclude = ["lab[12.py"]\n', r"courses\.0\.exclude \(course 'cs101'\): '\[' in 'lab\[12\.py' is never closed"),
        ('[[courses]]\nname = "a-b"\nsources = ["x"]\n[[courses]]\nname = "a_b"\nsources = ["y"]\n', r"share one index"),
        ("[search]\nmode = \"fuzzy\"\n", r"search\.mode"),
        ('[search]\nrerank = "cross-encoder"\n', r"needs search\.rerank_model: a local cross-encoder folder"),
        ('[slack.channels]\nC0123 = "cs999"\n', r"slack\.channels maps C0123 to the course 'cs999', which is not configured \(courses: default\)"),
        ('[discord.channels]\n"811111111111111111" = { course = "cs999", mode = "forum" }\n', r"discord\.channels maps 811111111111111111 to the course 'cs999'"),
        ('[slack.channels]\nC0123 = { mode = "loud" }\n', r"slack\.channels\.C0123\.mode: Input should be 'mention', 'forum' or 'off'"),
        ("x = [\n", r"mentor\.toml is not valid TOML"),
        ('[[courses]]\nname = "cs101"\nsources = ["x"]\nstart_date = "2026-09-31"\n', r"courses\.0\.start_date: '2026-09-31' is not a date .*\(course 'cs101'\)"),
        ('[[courses]]\nname = "cs101"\nsources = ["x"]\n[courses.releases]\n"w06/**" = "2026-13-01"\n', r"courses\.0\.releases: 'w06/\*\*': '2026-13-01' is not a date or date-time .*\(course 'cs101'\)"),
        ('[[courses]]\nname = "cs101"\nsources = ["x"]\n[courses.releases]\n"!w06/**" = 2026-10-01\n', r"courses\.0\.releases \(course 'cs101'\): pattern '!w06/\*\*' starts with '!'"),
        ('[[courses]]\nname = "cs101"\nsources = ["x"]\n[[courses.assignments]]\nname = "HW1"\nfiles = ["hw1/**"]\ndue = "soon"\n', r"courses\.0\.assignments: assignment 0 \('HW1'\): due 'soon' is not a date or date-time .*\(course 'cs101'\)"),
        ('[[courses]]\nname = "cs101"\nsources = ["x"]\n[[courses.assignments]]\nname = "HW1"\nfiles = ["hw/**"]\ndue = 2026-10-01\n[[courses.assignments]]\nname = "HW2"\nfiles = ["hw/**"]\ndue = 2026-11-01\n', r"courses\.0\.assignments \(course 'cs101'\): 'HW1' and 'HW2' both claim 'hw/\*\*'"),
        ('[[courses]]\nname = "cs101"\nsources = ["x"]\n[[courses.assignments]]\nname = "HW1"\ndue = 2026-10-01\nsolutions = ["!hw1/key.py"]\n', r"courses\.0\.assignments \(course 'cs101', 'HW1'\): a `solutions` glob starts with '!'"),
        ('[[courses]]\nname = "cs101"\nsources = ["x"]\n[[courses.assignments]]\nname = "HW1"\ndue = 2026-10-01\ndeclared = ["hw1.md"]\n', r"courses\.0\.assignments \(course 'cs101', 'HW1'\): `declared` is read from the files' own front matter"),
        ('[[courses]]\nname = "cs101"\nsources = ["x"]\n[[courses.exams]]\nname = "midterm"\nstart = 2026-11-02T11:00:00\nend = 2026-11-02T09:00:00\n', r"courses\.0\.exams\.0: .*exam 'midterm' ends \(2026-11-02T09:00:00\+00:00\) before it starts"),
        ('[[courses]]\nname = "cs101"\nsources = ["x"]\n[courses.releases]\n"lab[12.md" = 2026-10-01\n', r"courses\.0\.releases \(course 'cs101'\): '\[' in 'lab\[12\.md' is never closed"),
    ],
)
def test_an_invalid_config_says_which_key_is_wrong(tmp_path: Path, toml: str, message: str) -> None:
    (tmp_path / "mentor.toml").write_text(toml)
    with pytest.raises(ConfigError, match=message):
        load_settings()


def test_a_named_config_file_that_is_missing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MENTOR_CONFIG", "nope.toml")
    with pytest.raises(ConfigError, match="nope.toml does not exist"):
        load_settings()


def test_an_unknown_course_lists_the_known_ones(tmp_path: Path) -> None:
    (tmp_path / "mentor.toml").write_text('[[courses]]\nname = "cs101"\nsources = ["x"]\n')
    with pytest.raises(UnknownCourseError, match="No course named 'cs999'. Configured courses: cs101"):
        load_settings().course("cs999")
    with pytest.raises(UnknownCourseError, match="only course is 'default'"):
        load_settings(courses=[]).course("cs101")


def test_secrets_do_not_show_in_the_settings_repr(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MENTOR_MILVUS_TOKEN", "root:s3cret-token")
    settings = load_settings()
    assert "s3cret" not in repr(settings) and "s3cret" not in str(settings.model_dump())
    assert settings.milvus_token.get_secret_value() == "root:s3cret-token"
