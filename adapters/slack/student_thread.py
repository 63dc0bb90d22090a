"""A TA's answer posted into a Slack student's thread: escaped, so nothing in it pings anyone."""

from __future__ import annotations

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from adapters.slack.live_reply import NETWORK_ERRORS
from adapters.slack.render import _section, escape, split_sections
from bot.errors import ThreadGoneError
from models import ReplyPlace

GONE = {"channel_not_found", "is_archived", "thread_not_found", "message_not_found", "not_in_channel"}
"""Slack's errors that mean the student's thread cannot take the answer any more."""


class SlackStudentThread:
    """`StudentThread` for questions asked in Slack."""

    def __init__(self, client: AsyncWebClient) -> None:
        self.client = client

    async def post(self, place: ReplyPlace, heading: str, body: str) -> None:
        blocks = ([_section(f"*{escape(heading)}*")] + [_section(piece) for piece in split_sections(body)]) if body else []
        text = f"{heading}: {body}" if body else heading
        try:
            await self.client.chat_postMessage(
                channel=place.channel, thread_ts=place.thread, text=escape(text), blocks=blocks or None, unfurl_links=False
            )
        except SlackApiError as exc:
            error = exc.response.get("error")
            if error in GONE:
                raise ThreadGoneError(f"the student's Slack thread is gone ({error})") from None
            raise ThreadGoneError(f"Slack refused the post ({error})") from None
        except NETWORK_ERRORS as exc:
            raise ThreadGoneError(f"Slack could not be reached ({exc})") from None
