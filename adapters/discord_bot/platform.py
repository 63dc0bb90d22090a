"""The Discord platform: a discord.py client that answers mentions in threads and counts 👍/👎 on answers."""

from __future__ import annotations

import asyncio
import logging

import discord
import yarl
from discord.gateway import DiscordWebSocket
from discord.http import Route

from adapters.discord_bot.ask_ta import DiscordAskTa
from adapters.discord_bot.delivery import DiscordStudentThread
from adapters.discord_bot.feedback import ReactionVotes
from adapters.discord_bot.inflight import InFlight
from adapters.discord_bot.posts import THREADS, forum_problems, heard, is_post, is_ta, read_question, reply_target
from adapters.discord_bot.render import (
    neutralise,
    render_answer,
    render_notice,
    render_report,
    split_message,
    thread_name,
    to_question,
    to_turn,
)
from adapters.discord_bot.slash import NO_MENTIONS, build_tree, sync_commands
from adapters.discord_bot.ta_queue import DiscordTaQueue
from bot.config.sections import ChannelRoute, DiscordSettings
from bot.config.settings import Settings
from bot.errors import PlatformError
from bot.service.ask_ta import asks_for_a_ta
from bot.service.channels import TaReplies, route_for
from bot.service.commands import HELP, ChatCommands
from bot.service.notices import attachment_notice, for_student, paste_the_text, place_in_line
from bot.store.history import RunRecord
from models import Answer, Course, Question, ReplyPlace, Turn

log = logging.getLogger(__name__)

READY_TIMEOUT_S = 60.0
STOP_GRACE_S = 20.0
"""In-flight answers get this long on stop; `mentor serve` allows the whole stop 30 s."""
TYPING_EVERY_S = 8.0
"""Discord shows "typing…" for about 10 s after each trigger."""
PLACE_SHOWN_FROM = 3
"""A shorter wait is covered by "typing…"; from this many questions ahead the student is told their place."""


def mentor_intents(reads_every_message: bool = False) -> discord.Intents:
    """The default intents, none of them privileged unless a channel is in `forum` mode.

    Discord still delivers the content of messages that mention the bot (and of DMs) without
    the Message Content intent, which is all a mention-driven mentor reads; so the bot needs
    no approval and reads nothing else said in the server. A forum-mode channel is answered
    without mentions, so its posts' text needs the Message Content intent (switched on in the
    developer portal too). Reactions (in servers and DMs, not privileged) carry the votes.
    """
    intents = discord.Intents.default()
    intents.message_content = reads_every_message
    intents.members = False
    intents.presences = False
    intents.guild_reactions = True
    intents.dm_reactions = True
    return intents


def _reads_every_message(settings: DiscordSettings) -> bool:
    return any(route.mode == "forum" for route in settings.channels.values())


class _Client(discord.Client):
    def __init__(self, platform: DiscordPlatform, *, reads_every_message: bool) -> None:
        super().__init__(intents=mentor_intents(reads_every_message), allowed_mentions=NO_MENTIONS, chunk_guilds_at_startup=False)
        self.platform = platform
        self.ask_ta: DiscordAskTa | None = None
        """Where an "Ask a TA" click goes (`AskTaButton` finds it on the interaction's client)."""
        self.ta_queue: DiscordTaQueue | None = None
        """Where a queue button's click goes, for courses whose TA queue is a Discord channel."""

    async def on_message(self, message: discord.Message) -> None:
        await self.platform.on_message(message)

    async def on_interaction(self, interaction: discord.Interaction) -> None:
        """A modal's submission is matched here by its custom id (clicks and slash commands have their own routes)."""
        if interaction.type is discord.InteractionType.modal_submit and self.ta_queue is not None:
            await self.ta_queue.submitted(interaction)

    async def on_raw_reaction_add(self, payload: discord.RawReactionActionEvent) -> None:
        await self.platform.votes.on_reaction(payload)

    async def on_raw_reaction_remove(self, payload: discord.RawReactionActionEvent) -> None:
        await self.platform.votes.on_reaction(payload)


class DiscordPlatform:
    """`start()` logs in, connects and returns once ready; `stop()` lets answers finish, then closes.

    discord.py takes its REST base and gateway from class attributes, so the URLs set here
    hold for the whole process: one Discord platform per process.
    """

    name = "discord"

    def __init__(self, settings: Settings, commands: ChatCommands) -> None:
        self.settings = settings.discord
        self.history_turns = settings.answer.history_turns
        self.max_question_chars = settings.answer.max_question_chars
        self.attachment_bytes = settings.attachments.max_bytes
        self.commands = commands
        self.inflight = InFlight()
        self.ta_replies = TaReplies()
        # A TA's reply in a Discord queue thread need not mention the bot, so its text needs the Message Content intent too.
        queue_in_discord = any(c.escalation.ta_queue and c.escalation.ta_queue_platform == "discord" for c in settings.courses)
        self.client = _Client(self, reads_every_message=_reads_every_message(self.settings) or queue_in_discord)
        self.ask_ta = DiscordAskTa(self.client, commands.ta_requests, self._history)
        self.client.ask_ta = self.ask_ta
        self.ta_queue = DiscordTaQueue(self.client, commands.escalations, settings.courses)
        self.client.ta_queue = self.ta_queue
        self.votes = ReactionVotes(self.client, commands, self.inflight, on_down=self.ask_ta.on_downvote)
        self.tree = build_tree(self.client, commands, self.settings, self.course_of, self.inflight)
        self._gateway: asyncio.Task[None] | None = None
        commands.report_sinks.append(self.post_report)
        commands.escalations.threads[self.name] = DiscordStudentThread(self.client)
        commands.digest_sinks.append(self.post_digest)

    async def start(self) -> None:
        # Class attributes, read per request and per connect: the only seams discord.py has.
        Route.BASE = self.settings.api_url.rstrip("/")
        if self.settings.gateway_url:
            DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(self.settings.gateway_url)
        token = self.settings.token.get_secret_value() if self.settings.token else ""
        try:
            await self.client.login(token)
        except discord.LoginFailure as exc:
            await self.client.close()
            raise PlatformError(f"Discord rejected the bot token: check MENTOR_DISCORD__TOKEN ({exc}).") from exc
        except (discord.HTTPException, OSError) as exc:
            await self.client.close()
            raise PlatformError(f"Cannot reach Discord at {Route.BASE} (MENTOR_DISCORD__API_URL): {exc}") from exc
        self._gateway = asyncio.create_task(self.client.connect(reconnect=True), name="discord gateway")
        ready = asyncio.create_task(self.client.wait_until_ready())
        await asyncio.wait({ready, self._gateway}, timeout=READY_TIMEOUT_S, return_when=asyncio.FIRST_COMPLETED)
        if not ready.done():
            ready.cancel()
            failure = (self._gateway.exception() or "it closed") if self._gateway.done() else "no READY in time"
            await self.stop()
            raise PlatformError(f"Cannot connect to the Discord gateway (MENTOR_DISCORD__GATEWAY_URL): {failure}")
        self._gateway.add_done_callback(_log_gateway_end)
        for problem in forum_problems(self.client, self.settings, self.route_of):
            log.warning(problem)
        try:
            self.ta_queue.check()
        except PlatformError:
            await self.stop()
            raise
        try:
            await sync_commands(self.tree, self.settings.guilds)
        except discord.HTTPException as exc:
            await self.stop()
            raise PlatformError(f"Cannot register the slash commands (check MENTOR_DISCORD__GUILDS): {exc}") from exc

    def is_connected(self) -> bool:
        """For the operator's health check: logged in, READY received, and not closed."""
        return self.client.is_ready() and not self.client.is_closed()

    async def stop(self) -> None:
        if not await self.inflight.drain(STOP_GRACE_S):
            log.warning("discord: stopping with answers still being written")
        await self.client.close()
        if self._gateway is not None:
            await asyncio.gather(self._gateway, return_exceptions=True)

    def route_of(self, channel: discord.abc.Snowflake | None, guild_id: int | None) -> ChannelRoute:
        """A thread follows its parent channel's entry; a channel its own, else its guild's."""
        keys = [str(channel.id)] if channel else []
        if parent_id := getattr(channel, "parent_id", None):
            keys.append(str(parent_id))
        if guild_id:
            keys.append(str(guild_id))
        return route_for(keys, self.settings.channels)

    def course_of(self, channel: discord.abc.Snowflake | None, guild_id: int | None) -> str | None:
        return self.route_of(channel, guild_id).course

    async def on_message(self, message: discord.Message) -> None:
        me = self.client.user
        if self.inflight.closed or me is None or message.webhook_id:
            return
        if await self.ta_queue.take_reply(message):  # a TA's reply in a queue thread is never a question
            return
        if isinstance(message.channel, discord.Thread) and is_ta(message.author, self.settings):
            self.ta_replies.note(str(message.channel.id))
        if message.author.bot:
            return
        role = message.guild.self_role if message.guild else None
        mentioned = me.id in message.raw_mentions or (role is not None and role.id in message.raw_role_mentions)
        route = self.route_of(message.channel, message.guild.id if message.guild else None)
        if message.guild is not None and not await heard(message, route, me.id, mentioned, self.ta_replies):
            return
        if not await self.commands.deduper.first_time(f"discord:{message.id}"):
            return  # a resumed gateway replays events; each question is answered once
        async with self.inflight.work():
            try:
                await self._take(message, route.course, role.id if role else None, unasked=message.guild is not None and not mentioned)
            except discord.NotFound:  # the post (or its thread) was deleted before the answer was ready
                log.info("discord: message %s in %s was deleted before its answer", message.id, message.channel)
            except discord.HTTPException:  # Discord refused our reply: nobody to tell but the log
                log.exception("discord: could not answer message %s in %s", message.id, message.channel)

    async def _take(self, message: discord.Message, course: str | None, role_id: int | None, *, unasked: bool) -> None:
        """Read the attachments into the question, then answer it (or say what is missing)."""
        composed = await read_question(message, self.client, role_id, self.attachment_bytes, self.max_question_chars)
        if composed.asked_nothing:
            await self._send(message.channel, [neutralise(paste_the_text(composed.attachments))], reply_to=reply_target(message))
            return
        me = self.client.user.id if self.client.user else 0
        question = to_question(composed.text, author_id=message.author.id, me=me, role_id=role_id, course=course, link=message.jump_url)
        if question is not None and asks_for_a_ta(question.text):
            await self.ask_ta.on_text(message)
            return
        if question is not None:
            question = question.model_copy(update={"attachments": composed.attachments})
        await self._answer(message, question, attachment_notice(composed.attachments, self.attachment_bytes), unasked=unasked)

    async def _answer(self, message: discord.Message, question: Question | None, preface: str | None, *, unasked: bool) -> None:
        if question is None:
            await self._send(message.channel, [HELP], reply_to=reply_target(message))
            return
        try:
            admission = await self.commands.admit(question)
        except Exception as exc:  # over the student's rate (told once) or a full line
            notice = for_student(exc, f"discord question in {message.channel.id}")
            if notice.kind != "ignored":
                await self._send(message.channel, [render_notice(notice)], reply_to=reply_target(message))
            return
        with admission:  # the place in line is given back if the thread cannot be opened
            channel, reply_to = message.channel, None
            if is_post(message):
                pass  # a forum post is its own thread, with no earlier messages
            elif getattr(channel, "type", None) in THREADS or message.guild is None:
                question = question.model_copy(update={"history": await self._history(channel, message)})
            else:
                try:
                    channel = await message.create_thread(name=thread_name(question.text), auto_archive_duration=1440)
                except discord.HTTPException as exc:  # Forbidden: no Create Public Threads permission here
                    log.warning("discord: cannot open a thread in #%s (%s); replying instead", channel, exc)
                    reply_to = message
            if admission.ahead >= PLACE_SHOWN_FROM:  # a burst: say the question was heard, and where it stands
                await self._send(channel, [neutralise(place_in_line(admission.ahead))], reply_to=reply_to)
            typing = asyncio.create_task(_keep_typing(channel))
            answer: Answer | None = None
            try:
                answer = await self.commands.ask(question, admission=admission)
                chunks = render_answer(answer, preface)
            except Exception as exc:
                chunks = [render_notice(for_student(exc, f"discord question in {channel.id}"))]
            finally:
                typing.cancel()
        if unasked and str(channel.id) in self.ta_replies:  # a TA answered while the bot was writing
            log.info("discord: a TA answered in %s first; the bot's answer is not posted", channel)
            return
        view = await self.ask_ta.view_for(answer) if answer is not None else None
        sent = await self._send(channel, chunks, reply_to=reply_to, view=view)
        if answer is not None:
            await self.votes.offer(answer, sent)
            place = ReplyPlace(platform=self.name, channel=str(channel.id), link=message.jump_url)
            await self.commands.escalations.after_answer(question, answer, place, message.author.display_name)

    async def _history(self, channel: discord.abc.Messageable, before: discord.Message) -> tuple[Turn, ...]:
        """The thread's (or DM's) earlier messages, oldest first; the thread's starter is the first question."""
        if self.history_turns == 0 or self.client.user is None:
            return ()
        me = self.client.user.id
        turns: list[Turn] = []
        try:
            async for past in channel.history(limit=self.history_turns, before=before):
                source = past.reference.resolved if past.type is discord.MessageType.thread_starter_message and past.reference else past
                if isinstance(source, discord.Message):
                    turn = to_turn(source.author.id, source.author.bot, source.content, me)
                    if turn is not None:
                        turns.append(turn)
        except discord.HTTPException as exc:  # Read Message History denied: answer without context
            log.warning("discord: cannot read the history of %s (%s)", channel, exc)
        return tuple(reversed(turns))

    async def _send(
        self,
        channel: discord.abc.Messageable,
        chunks: list[str],
        reply_to: discord.Message | None = None,
        view: discord.ui.View | None = None,
    ) -> list[discord.Message]:
        """Post the chunks in order; `view` (the "Ask a TA" button) goes under the last one."""
        sent: list[discord.Message] = []
        for n, chunk in enumerate(chunks):
            extra = {"view": view} if view is not None and n == len(chunks) - 1 else {}
            if n == 0 and reply_to is not None:
                sent.append(await reply_to.reply(chunk, allowed_mentions=NO_MENTIONS, mention_author=False, **extra))
            else:
                sent.append(await channel.send(chunk, allowed_mentions=NO_MENTIONS, **extra))
        return sent

    async def post_report(self, course: Course, record: RunRecord) -> None:
        """A report sink: a Discord channel is a numeric id (other ids belong to other platforms)."""
        target = course.report_channel
        if not target or not target.isdigit() or not self.client.is_ready():
            return
        await self._send(self.client.get_partial_messageable(int(target)), render_report(course, record))

    async def post_digest(self, course: Course, text: str) -> None:
        """The instructors' digest, in the course's report channel when that is a Discord channel."""
        target = course.report_channel
        if target and target.isdigit() and self.client.is_ready():
            await self._send(self.client.get_partial_messageable(int(target)), split_message(neutralise(text)))


async def _keep_typing(channel: discord.abc.Messageable) -> None:
    try:
        while True:
            await channel.typing()
            await asyncio.sleep(TYPING_EVERY_S)
    except discord.HTTPException as exc:  # typing is a courtesy; the answer goes on without it
        log.debug("discord: typing indicator failed: %s", exc)


def _log_gateway_end(task: asyncio.Task[None]) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.error("discord: the gateway connection ended", exc_info=task.exception())
