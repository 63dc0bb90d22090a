"""Files shared with a Slack question: listed from the event, downloaded with the bot token,
read into the question (or answered for, when the question is only a screenshot).

Slack serves `url_private` only to a request that carries the bot token as a Bearer
token (and the `files:read` scope); without it Slack answers its HTML sign-in page, which is
taken as "could not download", never read as the file.
"""

from __future__ import annotations

import logging
from typing import Any

import aiohttp
from pydantic import SecretStr

from adapters.slack.events import BotIdentity, to_plain, to_question
from adapters.slack.render import SlackMessage, render_text
from bot.service.attachments import Download, compose, read_attachments
from bot.service.commands import HELP
from bot.service.notices import paste_the_text
from models import Attachment, Question

log = logging.getLogger(__name__)

CHUNK = 64 * 1024


def attachments_of(event: dict[str, Any]) -> list[Attachment]:
    return [
        Attachment(
            name=str(shared.get("name") or shared.get("title") or "file"),
            content_type=shared.get("mimetype"),
            size=int(shared.get("size") or 0),
            url=shared.get("url_private_download") or shared.get("url_private"),
        )
        for shared in event.get("files") or []
        if isinstance(shared, dict)
    ]


async def read_question(
    event: dict[str, Any], bot: BotIdentity, course: str | None, token: SecretStr | None, max_bytes: int, max_chars: int
) -> Question | SlackMessage:
    """The question with its files read in (`bot.service.attachments` decides which), or the reply
    that stands for an answer: "paste the text" to a screenshot alone, the help text to a bare mention."""
    found = attachments_of(event)
    read = await read_attachments(found, downloader(token.get_secret_value() if token else "", max_bytes), max_bytes) if found else ()
    composed = compose(to_plain(str(event.get("text", "")), bot.user_id), read, max_chars)
    if composed.asked_nothing:
        return render_text(paste_the_text(composed.attachments))
    question = to_question(event, bot, course, text=composed.text)
    return question.model_copy(update={"attachments": composed.attachments}) if question else render_text(HELP)


def downloader(token: str, max_bytes: int) -> Download:
    """At most `max_bytes + 1` bytes of a file, so an understated size cannot make the download unbounded."""

    async def download(attachment: Attachment) -> bytes | None:
        if not attachment.url:
            return None
        try:
            async with aiohttp.ClientSession() as http, http.get(attachment.url, headers={"Authorization": f"Bearer {token}"}) as response:
                if response.status != 200 or response.content_type == "text/html":
                    log.info("slack: cannot download %s (HTTP %s, %s): does the app have files:read?",
                             attachment.name, response.status, response.content_type)
                    return None
                data = bytearray()
                async for chunk in response.content.iter_chunked(CHUNK):
                    data += chunk
                    if len(data) > max_bytes:
                        break
                return bytes(data)
        except (aiohttp.ClientError, OSError) as exc:
            log.info("slack: cannot download %s (%s)", attachment.name, exc)
            return None

    return download
