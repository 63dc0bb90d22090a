"""The Slack platform: one Bolt app, reached over Socket Mode or the HTTP Events API.

Every event is acknowledged at once and answered in a tracked task, so Slack never
retries for lack of an ack and `stop()` can wait for the answers still being written.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

from aiohttp import web
from pydantic import SecretStr
from slack_bolt.adapter.aiohttp import to_aiohttp_response, to_bolt_request
from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler
from slack_bolt.async_app import AsyncApp
from slack_bolt.response import BoltResponse
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_async_handlers import (
    AsyncConnectionErrorRetryHandler,
    AsyncRateLimitErrorRetryHandler,
)
from slack_sdk.web.async_client import AsyncWebClient

from adapters.slack.ask_ta import SlackAskTa
from adapters.slack.channels import ChannelListener
from adapters.slack.events import BotIdentity, event_key, missing_fields, thread_of, thread_turns, unasked
from adapters.slack.feedback import ReactionVotes
from adapters.slack.files import read_question
from adapters.slack.live_reply import NETWORK_ERRORS, UNDELIVERED, LiveReply
from adapters.slack.render import SlackMessage, render_answer, render_line
from adapters.slack.slash import SlashCommand
from adapters.slack.student_thread import SlackStudentThread
from adapters.slack.ta_queue import SlackTaQueue
from bot.config.sections import AnswerSettings, AttachmentSettings, SlackSettings
from bot.errors import PlatformError
from bot.ops.http_site import listen
from bot.service.ask_ta import asks_for_a_ta
from bot.service.commands import ChatCommands
from bot.service.notices import attachment_notice, for_student, place_in_line
from bot.store.history import RunRecord
from models import Answer, Course, Question, ReplyPlace, Turn

log = logging.getLogger(__name__)

CONNECT_TIMEOUT_S = 20.0
DRAIN_TIMEOUT_S = 25.0
"""Below `mentor serve`'s 30 s stop timeout, so a stuck answer is cancelled here, not abandoned there."""
"""chat.update is rate limited (about 50 a minute), so a growing answer is shown at most this often."""
HISTORY_FETCH = 100


def secret(value: SecretStr | None) -> str | None:
    return value.get_secret_value() if value is not None else None


class SlackPlatform:
    """`start()` connects (raising `PlatformError` naming the setting); `stop()` drains and disconnects."""

    name = "slack"

    def __init__(
        self,
        settings: SlackSettings,
        commands: ChatCommands,
        answer: AnswerSettings = AnswerSettings(),
        files: AttachmentSettings = AttachmentSettings(),
    ) -> None:
        self.settings = settings
        self.history_turns, self.max_question_chars, self.attachment_bytes = answer.history_turns, answer.max_question_chars, files.max_bytes
        self.commands = commands
        self.client = AsyncWebClient(
            base_url=settings.api_url,
            token=secret(settings.bot_token),
            retry_handlers=[AsyncConnectionErrorRetryHandler(), AsyncRateLimitErrorRetryHandler(max_retry_count=2)],
        )
        # process_before_response: listeners only start tasks, so the ack waits for
        # nothing slow, and every task exists before Slack hears the event was taken.
        self.app = AsyncApp(
            client=self.client, signing_secret=secret(settings.signing_secret) or "", process_before_response=True
        )
        self.bot = BotIdentity(user_id="", bot_id=None, team_id=None)
        self._tasks: set[asyncio.Task[None]] = set()
        self._socket: AsyncSocketModeHandler | None = None
        self._runner: web.AppRunner | None = None
        self.app.middleware(self._drop_repeats)
        # The TA queue's listeners go first: a reply in a queue thread is taken before the channel listener.
        self.ta_queue = SlackTaQueue(self.client, commands.escalations, commands.mentor.settings.courses, self.spawn)
        self.ta_queue.register(self.app)
        commands.escalations.threads[self.name] = SlackStudentThread(self.client)
        self.channels = ChannelListener(settings, self.client, lambda: self.bot, self._take, self.spawn)
        self.app.event("app_mention")(self.channels.on_mention)
        self.app.event("message")(self.channels.on_message)
        SlashCommand(commands, settings, self.spawn, self.failure).register(self.app)
        self.ask_ta = SlackAskTa(self.client, commands.ta_requests, lambda: self.bot, self.spawn)
        self.ask_ta.register(self.app)
        self.votes = ReactionVotes(commands, self.client, lambda: self.bot, self.spawn, on_down=self.ask_ta.on_downvote)
        self.votes.register(self.app)

    async def start(self) -> None:
        self._check_settings()
        self.bot = await self._authenticate()
        await self.channels.check_forums()
        await self.ta_queue.start()
        self._answer_left_over()
        if self.settings.mode == "socket":
            await self._connect_socket()
        else:
            await self._serve_http()
        self.commands.report_sinks.append(self.report)
        self.commands.digest_sinks.append(self.post_digest)
        log.info("slack: connected as %s (%s mode)", self.bot.user_id, self.settings.mode)

    def is_connected(self) -> bool:
        """For the operator's health check: the Socket Mode connection is up, or the HTTP site listens."""
        if self._socket is not None:
            client = self._socket.client
            session = client.current_session
            last_pong = client.last_ping_pong_time
            pong_failing = last_pong is not None and time.time() - last_pong >= client.ping_interval * 4
            return not client.closed and not client.stale and session is not None and not session.closed and not pong_failing
        return self._runner is not None and bool(self._runner.addresses)

    async def stop(self) -> None:
        await self.ta_queue.stop()
        if self._socket is not None:
            await self._socket.close_async()
            self._socket = None
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        if self._tasks:
            _, late = await asyncio.wait(set(self._tasks), timeout=DRAIN_TIMEOUT_S)
            for task in late:
                log.warning("slack: cancelling %s, still running at shutdown", task.get_name())
                task.cancel()
        if self.report in self.commands.report_sinks:
            self.commands.report_sinks.remove(self.report)
        if self.post_digest in self.commands.digest_sinks:
            self.commands.digest_sinks.remove(self.post_digest)

    def spawn(self, work: Coroutine[Any, Any, None], what: str) -> None:
        """Run `work` after the ack; `stop()` waits for it."""
        task = asyncio.create_task(work, name=f"slack {what}")
        self._tasks.add(task)
        task.add_done_callback(self._finished)

    async def report(self, course: Course, record: RunRecord) -> None:
        """A scheduled run's summary, in the course's report channel when it has one."""
        if course.report_channel:
            message = render_line(f"Scheduled reindex of {course.name}: {record.summary()}", ":books:")
            await self.client.chat_postMessage(channel=course.report_channel, text=message.text)

    async def post_digest(self, course: Course, text: str) -> None:
        """The instructors' digest, in the course's report channel (a Discord id is not ours)."""
        if course.report_channel and not course.report_channel.isdigit():
            await self.client.chat_postMessage(channel=course.report_channel, text=render_line(text, ":bar_chart:").text)

    def _finished(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("slack: %s failed", task.get_name(), exc_info=task.exception())

    def _check_settings(self) -> None:
        if self.settings.mode == "socket" and self.settings.app_token is None:
            raise PlatformError(
                "MENTOR_SLACK__APP_TOKEN is not set: Socket Mode needs the app-level token (xapp-…). "
                "Set it, or use the HTTP Events API with MENTOR_SLACK__MODE=http."
            )
        if self.settings.mode == "http" and self.settings.signing_secret is None:
            raise PlatformError(
                "MENTOR_SLACK__SIGNING_SECRET is not set: the HTTP Events API needs the app's signing secret "
                "to verify that requests come from Slack."
            )

    async def _authenticate(self) -> BotIdentity:
        try:
            response = await self.client.auth_test()
        except SlackApiError as exc:
            raise PlatformError(
                f"Slack rejected MENTOR_SLACK__BOT_TOKEN ({exc.response.get('error')}): "
                "set the bot token (xoxb-…) of the app installed in your workspace."
            ) from None
        except NETWORK_ERRORS as exc:
            raise PlatformError(f"Cannot reach the Slack API at {self.settings.api_url} (MENTOR_SLACK__API_URL): {exc}") from None
        return BotIdentity(
            user_id=response["user_id"], bot_id=response.get("bot_id"), team_id=response.get("team_id"), workspace_url=response.get("url")
        )

    async def _connect_socket(self) -> None:
        token = secret(self.settings.app_token) or ""
        try:
            opened = await self.client.apps_connections_open(app_token=token)
        except SlackApiError as exc:
            raise PlatformError(
                f"Slack rejected MENTOR_SLACK__APP_TOKEN ({exc.response.get('error')}): Socket Mode needs an "
                "app-level token (xapp-…) with the connections:write scope."
            ) from None
        handler = AsyncSocketModeHandler(self.app, token, web_client=self.client)
        # The URL just issued is used, rather than asking for another: the client retries a
        # failed connect forever, so a bad token is caught above, where it can be reported.
        handler.client.wss_uri = opened["url"]
        try:
            await asyncio.wait_for(handler.connect_async(), CONNECT_TIMEOUT_S)
        except asyncio.TimeoutError:
            await handler.close_async()
            raise PlatformError(f"Could not open the Socket Mode connection at {opened['url']} within {CONNECT_TIMEOUT_S:.0f} s.") from None
        self._socket = handler

    async def _serve_http(self) -> None:
        server = web.Application()
        server.router.add_post(self.settings.path, self._on_http)
        self._runner = await listen(server, self.settings.host, self.settings.port, "MENTOR_SLACK__HOST, MENTOR_SLACK__PORT")

    async def _on_http(self, request: web.Request) -> web.Response:
        # Bolt checks the signature and the timestamp's age and answers 401 itself.
        return await to_aiohttp_response(await self.app.async_dispatch(await to_bolt_request(request)))

    async def _drop_repeats(self, body: dict[str, Any], next_: Callable[[], Awaitable[BoltResponse]]) -> BoltResponse:
        """Slack redelivers an event it believes was missed (`x-slack-retry-num`, Socket Mode's
        `retry_attempt`); Bolt does not notice, so a seen event is acknowledged and dropped here."""
        if body.get("type") == "event_callback" and not await self.commands.deduper.first_time(event_key(body)):
            log.info("slack: dropped a repeated delivery of %s", event_key(body))
            return BoltResponse(status=200, body="")
        return await next_()

    def _take(self, body: dict[str, Any], event: dict[str, Any]) -> None:
        if missing := missing_fields(event):
            log.warning("slack: ignored a %s event without %s (event %s)", event.get("type"), " or ".join(missing), body.get("event_id"))
            return
        key, team = event_key(body), str(body.get("team_id", ""))
        if not self.commands.pending.take(key, self.name, {"team": team, "event": event}):
            log.info("slack: dropped a delivery of %s, which is being answered already", key)
            return
        self.spawn(self._answer_kept(key, team, event), f"answer in {event['channel']}")

    def _answer_left_over(self) -> None:
        """Questions a crash cut off (taken, acknowledged, never answered: Slack will not send them
        again) are answered now, in the placeholder they already have."""
        left = self.commands.pending.left_over(self.name)
        if left:
            log.warning("slack: answering %d questions left unanswered when the service last stopped", len(left))
        for item in left:
            event = item.payload["event"]
            self.spawn(self._answer_kept(item.key, item.payload["team"], event, item.payload.get("placeholder")), f"answer in {event['channel']}")

    async def _answer_kept(self, key: str, team: str, event: dict[str, Any], placeholder: str | None = None) -> None:
        """Answer, then let the question go; cut off (cancelled at shutdown, or killed) it stays kept for the next start."""
        cut_off = False
        try:
            await self._answer(team, event, key, placeholder)
        except asyncio.CancelledError:
            cut_off = True
            raise
        finally:
            if not cut_off:
                self.commands.pending.done(key)

    async def _answer(self, team: str, event: dict[str, Any], key: str, placeholder: str | None = None) -> None:
        channel, thread = str(event["channel"]), thread_of(event)
        course = self.commands.course_for([channel, team], self.settings.channels)
        question = await read_question(event, self.bot, course, self.settings.bot_token, self.attachment_bytes, self.max_question_chars)
        if not isinstance(question, Question):  # a reply that stands for an answer
            await self._post(channel, thread, question)
            return
        if asks_for_a_ta(question.text):
            await self.ask_ta.on_text(event)
            return
        try:
            admission = await self.commands.admit(question)
        except Exception as exc:  # over the student's rate (told once) or a full line
            notice = for_student(exc, f"slack question in {channel}")
            if notice.kind != "ignored":
                await self._post(channel, thread, render_line(notice.text, ":warning:"))
            return
        with admission:
            if placeholder is None:
                placeholder = await self._placeholder(channel, thread, admission.ahead)
                if placeholder is not None:
                    self.commands.pending.note(key, placeholder=placeholder)
            reply = LiveReply(self.client, channel, thread, placeholder, admission.ahead)
            answer: Answer | None = None
            try:
                if event.get("thread_ts") and self.history_turns:
                    question = question.model_copy(update={"history": await self._history(channel, event)})
                answer = await self.commands.ask(question, reply.partial, admission=admission, on_position=reply.waiting)
                message = render_answer(answer, attachment_notice(question.attachments, self.attachment_bytes))
            except Exception as exc:  # the asker always hears back, in one line
                message = self.failure(exc, channel)
        if unasked(event, self.bot) and f"{channel}:{thread}" in self.channels.ta_replies:  # a TA answered meanwhile
            await reply.withdraw()
            return
        if answer is not None:
            message = await self.ask_ta.with_button(message, answer)
        shown = await reply.finish(message)
        if answer is not None:
            await self.votes.offer(answer, channel, shown)
            await self.commands.escalations.after_answer(question, answer, ReplyPlace(platform=self.name, channel=channel, thread=thread))

    async def _placeholder(self, channel: str, thread: str, ahead: int) -> str | None:
        """The message that says the question was taken (and its place in line); None when Slack
        did not take it: the answer is then posted when ready, not lost with the placeholder."""
        try:
            return await self._post(channel, thread, render_line(place_in_line(ahead), ":hourglass_flowing_sand:"))
        except UNDELIVERED as exc:
            log.warning("slack: could not post the placeholder in %s (%s); the answer follows on its own", channel, exc)
            return None

    def failure(self, exc: Exception, channel: str) -> SlackMessage:
        """What the asker is told, in one line (`notices` words it and logs the detail with the channel)."""
        return render_line(for_student(exc, f"slack question in {channel}").text, ":warning:")

    async def _history(self, channel: str, event: dict[str, Any]) -> tuple[Turn, ...]:
        try:
            response = await self.client.conversations_replies(channel=channel, ts=str(event["thread_ts"]), limit=HISTORY_FETCH)
        except SlackApiError as exc:
            log.warning("slack: cannot read the thread in %s (%s); answering without it", channel, exc.response.get("error"))
            return ()
        return thread_turns(list(response.get("messages") or []), str(event["ts"]), self.bot, self.history_turns)

    async def _post(self, channel: str, thread: str, message: SlackMessage) -> str:
        response = await self.client.chat_postMessage(
            channel=channel, thread_ts=thread, text=message.text, blocks=message.blocks or None, unfurl_links=False, unfurl_media=False
        )
        return str(response["ts"])
