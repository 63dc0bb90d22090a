"""Which messages a channel's mode answers, and how a channel map's entries combine."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.config.sections import ChannelRoute
from bot.config.settings import load_settings
from bot.service.channels import Heard, TaReplies, route_for, should_answer

POST = Heard(mentioned=False, new_post=True)
MENTION = Heard(mentioned=True, new_post=False)
FOLLOW_UP = Heard(mentioned=False, new_post=False, follow_up=True)


def test_a_channel_map_takes_bare_course_names_and_tables(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "mentor.toml").write_text(
        '[[courses]]\nname = "cs101"\nsources = ["."]\n'
        '[discord.channels]\n"811111111111111111" = "cs101"\n"822222222222222223" = { mode = "forum", follow_ups = "always" }\n'
    )
    channels = load_settings().discord.channels
    assert channels["811111111111111111"] == ChannelRoute(course="cs101")
    assert channels["822222222222222223"] == ChannelRoute(mode="forum", follow_ups="always")


def test_a_channel_entry_wins_field_by_field_over_its_guild() -> None:
    mapping = {
        "guild": ChannelRoute(course="cs101", mode="off"),
        "forum": ChannelRoute(mode="forum"),
        "named": ChannelRoute.model_validate({"course": "cs102"}),
    }
    assert route_for(["forum", "guild"], mapping) == ChannelRoute(course="cs101", mode="forum")
    assert route_for(["named", "guild"], mapping) == ChannelRoute(course="cs102", mode="off"), "a bare course sets no mode"
    assert route_for(["thread", "forum"], mapping) == ChannelRoute(mode="forum"), "a thread follows its parent"
    assert route_for(["elsewhere"], mapping) == ChannelRoute(), "unmapped: the default course, mention mode"


@pytest.mark.parametrize(
    ("route", "heard", "answered"),
    [
        (ChannelRoute(), MENTION, True),
        (ChannelRoute(), POST, False),
        (ChannelRoute(mode="off"), MENTION, False),
        (ChannelRoute(mode="forum"), POST, True),
        (ChannelRoute(mode="forum"), Heard(mentioned=False, new_post=True, ta_answered=True), False),
        (ChannelRoute(mode="forum"), Heard(mentioned=True, new_post=False, ta_answered=True), True),
        (ChannelRoute(mode="forum"), FOLLOW_UP, False),
        (ChannelRoute(mode="forum", follow_ups="always"), FOLLOW_UP, True),
        (ChannelRoute(mode="forum", follow_ups="always"), Heard(mentioned=False, new_post=False, follow_up=True, ta_answered=True), False),
        (ChannelRoute(mode="forum", follow_ups="always"), Heard(mentioned=False, new_post=False), False),
    ],
)
def test_what_each_mode_answers(route: ChannelRoute, heard: Heard, answered: bool) -> None:
    assert should_answer(route, heard) is answered


def test_ta_threads_are_remembered_newest_first() -> None:
    replies = TaReplies(kept=2)
    for thread in ("a", "b", "a", "c"):
        replies.note(thread)
    assert "a" in replies and "c" in replies and "b" not in replies, "a note refreshes a thread; the oldest goes"
