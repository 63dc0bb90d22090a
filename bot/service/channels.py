"""Which chat messages the bot answers: the channel map's modes, decided once for every platform.

Adapters say what they saw (a mention, a new post, a follow-up in a post's thread, a TA's
reply); this module says whether it is answered, so Discord and Slack cannot drift apart.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from bot.config.sections import ChannelRoute

TA_THREADS_KEPT = 10_000
"""Threads remembered as answered by a TA; the oldest are forgotten first."""


def route_for(keys: Sequence[str], mapping: Mapping[str, ChannelRoute]) -> ChannelRoute:
    """The route of the first key (channel, then parent or guild or workspace) that sets each field.

    Example: a guild mapped to `cs101` and its forum channel to `{mode = "forum"}` gives
    `ChannelRoute(course="cs101", mode="forum")` for a post in that forum.
    """
    chosen: dict[str, object] = {}
    for key in reversed(keys):
        route = mapping.get(key)
        if route is not None:
            chosen |= route.model_dump(include=route.model_fields_set)
    return ChannelRoute.model_validate(chosen)


@dataclass(frozen=True)
class Heard:
    """A person's message in a channel, as the adapter saw it."""

    mentioned: bool
    """It mentions the bot (or, on Discord, its managed role)."""
    new_post: bool
    """It opens something: a Discord forum post, or a top-level message in a channel."""
    follow_up: bool = False
    """A later message in the thread of a person's post (not of a thread another bot made)."""
    ta_answered: bool = False
    """A TA has already written in its thread."""


def should_answer(route: ChannelRoute, heard: Heard) -> bool:
    """A mention is always answered, except where the bot is `off`; in `forum` mode a new post is
    answered unasked unless a TA got there first, and so are follow-ups when `follow_ups = "always"`."""
    if route.mode == "off":
        return False
    if heard.mentioned:
        return True
    if route.mode != "forum" or heard.ta_answered:
        return False
    return heard.new_post or (heard.follow_up and route.follow_ups == "always")


class TaReplies:
    """Threads a TA has written in, seen since the start (kept in memory, the newest `TA_THREADS_KEPT`)."""

    def __init__(self, kept: int = TA_THREADS_KEPT) -> None:
        self._threads: OrderedDict[str, None] = OrderedDict()
        self._kept = kept

    def note(self, thread: str) -> None:
        self._threads[thread] = None
        self._threads.move_to_end(thread)
        while len(self._threads) > self._kept:
            self._threads.popitem(last=False)

    def __contains__(self, thread: object) -> bool:
        return thread in self._threads
