"""The Discord front end: the client core (bot/core.py) behind a discord.py bot.

Intents: `guilds`, `guild_messages` and the privileged `message_content` (turn on "Message Content Intent" under
Bot in the Discord Developer Portal, or the bot sees empty messages). Nothing else: no members, no presences.

The bot reads and writes only in allow-listed channels, ignores every bot (itself included), waits for a quiet
window before answering (a new message restarts the wait), shows the typing indicator and sends a reply as one
message per line. Commands (in allowed channels): `!reset` clears the channel's log, `!status` shows model,
endpoint and counters, `!consent on|off` turns conversation logging for the channel on or off (on needs the
Manage Channels permission; anyone may turn it off, which also deletes what was logged there). Feedback (stored
per version for `clonekit evolve`, in channels with consent): a 👍 or 👎 reaction on one of the clone's messages;
`!correct TEXT` says what the person would really have written (as a reply to the clone's message, or for its
latest). `!approve VERSION` approves a registry version for promotion (Administrator permission; needs `registry`
in the config).
"""

from __future__ import annotations

import asyncio
import logging
import os

import discord
from discord.ext import commands

from clonekit.bot.core import CloneChat
from clonekit.bot.feedback import REACTIONS, give_feedback
from clonekit.bot.store import ConversationStore
from clonekit.config import DiscordSettings
from clonekit.errors import ClonekitError

log = logging.getLogger("clonekit.bot.discord")


def intents() -> discord.Intents:
    out = discord.Intents.none()
    out.guilds = True
    out.guild_messages = True
    out.guild_reactions = True  # 👍/👎 on the clone's messages
    out.message_content = True  # privileged: enable it in the Developer Portal
    return out


def read_token(settings: DiscordSettings) -> str:
    token = os.environ.get(settings.token_env, "").strip()
    if not token:
        raise ClonekitError(
            f"no Discord bot token: set ${settings.token_env} (Developer Portal -> your application "
            "-> Bot -> Reset Token), and enable the Message Content Intent there"
        )
    return token


def profile_text(chat: CloneChat, settings: DiscordSettings) -> str:
    return settings.profile or f"AI clone of {chat.identity.clone_name} (clonekit), not a person"


class CloneBot(commands.Bot):
    def __init__(self, chat: CloneChat, settings: DiscordSettings, store: ConversationStore | None = None):
        if not settings.channels:
            raise ClonekitError(
                "no channels allowed: list channel ids or names under discord.channels in the "
                "config (or pass --channel); the bot reads and writes nowhere else"
            )
        self.profile = discord.CustomActivity(name=profile_text(chat, settings))  # shown under the bot's name
        super().__init__(
            command_prefix=settings.command_prefix, intents=intents(), help_command=None, activity=self.profile
        )
        self.chat = chat
        self.settings = settings
        self.store = store
        self.allowed = {str(c) for c in settings.channels}
        self.add_command(reset)
        self.add_command(status)
        self.add_command(consent)
        self.add_command(correct)
        self.add_command(approve)

    def is_allowed(self, channel) -> bool:
        return str(channel.id) in self.allowed or getattr(channel, "name", None) in self.allowed

    async def on_ready(self) -> None:
        log.info("logged in as %s; answering in %s", self.user, ", ".join(sorted(self.allowed)))

    async def on_message(self, message: discord.Message) -> None:
        if message.author.bot:  # other bots and the clone itself
            return
        if not self.is_allowed(message.channel):
            return
        if message.content.startswith(self.settings.command_prefix):
            await self.process_commands(message)
            return
        text = message.clean_content.strip()
        if message.attachments:
            text = (text + "\n<media>").strip() if text else "<media>"  # as prep renders media
        if not text:
            return
        key = str(message.channel.id)
        speaker = message.author.display_name
        if self.store:
            self.store.record_later(key, speaker, str(message.author.id), text)
        name = self.chat.identity.clone_name
        self.chat.heard(key, speaker, text, mentioned=self.user is not None and self.user in message.mentions)
        channel = message.channel

        async def send(bubble: str) -> None:
            sent = await channel.send(bubble)
            if self.store:
                self.store.record_later(
                    key,
                    name,
                    str(self.user.id if self.user else "clone"),
                    bubble,
                    is_clone=True,
                    version=self.chat.channel(key).version,
                    platform_id=str(sent.id),
                )

        self.chat.schedule(key, send, channel.typing)

    async def on_raw_reaction_add(self, payload: discord.RawReactionActionEvent) -> None:
        """👍/👎 on a message in an allowed channel: feedback, if the message is the clone's."""
        kind = REACTIONS.get(str(payload.emoji))
        if kind is None or self.store is None or (self.user and payload.user_id == self.user.id):
            return
        channel = self.get_channel(payload.channel_id)
        if channel is None or not self.is_allowed(channel) or (payload.member and payload.member.bot):
            return
        who = payload.member.display_name if payload.member else str(payload.user_id)
        try:
            fb = await asyncio.to_thread(
                give_feedback,
                self.store,
                str(payload.channel_id),
                kind,
                who,
                str(payload.user_id),
                None,
                str(payload.message_id),
                self.chat.cfg.registry,
            )
            log.info("channel %s: %s on a reply of %s", payload.channel_id, kind, fb["version"])
        except ClonekitError as e:  # a reaction on someone else's message, or no consent: not feedback
            log.info("channel %s: reaction not taken as feedback: %s", payload.channel_id, e)


def _bot(ctx: commands.Context) -> CloneBot:
    return ctx.bot


def _author_can(ctx: commands.Context, permission: str) -> bool:
    """Whether the author holds `permission` in this channel (in a direct message nobody holds channel
    permissions)."""
    if not isinstance(ctx.author, discord.Member):
        return False
    return bool(getattr(ctx.channel.permissions_for(ctx.author), permission))


@commands.command()
async def reset(ctx: commands.Context) -> None:
    """Clear this channel's conversation log."""
    _bot(ctx).chat.reset(str(ctx.channel.id))
    await ctx.send("(conversation log cleared)")


@commands.command()
async def status(ctx: commands.Context) -> None:
    """Model, endpoint, this channel's log and consent, and the counters."""
    b = _bot(ctx)
    key = str(ctx.channel.id)
    ch = b.chat.channel(key)
    events = ", ".join(f"{k} {v}" for k, v in sorted(b.chat.events.items())) or "none yet"
    logging_state = "off (no store configured)"
    if b.store:
        logging_state = f"consent {'on' if b.store.has_consent(key) else 'off'}, {b.store.count(key)} messages stored"
    await ctx.send(
        f"{profile_text(b.chat, b.settings)}\n"
        f"model: {b.chat.cfg.model} at {b.chat.cfg.base_url}\n"
        f"this channel: {len(ch.log.turns)} turns in the log; mode {b.chat.cfg.mode}, "
        f"quiet window {b.chat.cfg.quiet_seconds:g} s; logging {logging_state}\n"
        f"events: {events}"
    )


@commands.command()
async def consent(ctx: commands.Context, choice: str = "") -> None:
    """`!consent on|off`: log this channel's conversation for retraining, or stop and delete it."""
    b = _bot(ctx)
    if b.store is None:
        await ctx.send("conversation logging is not configured for this bot (no store)")
        return
    key = str(ctx.channel.id)
    who = f"{ctx.author.display_name} ({ctx.author.id})"
    if choice == "on":
        if not _author_can(ctx, "manage_channels"):
            await ctx.send("turning logging on needs the Manage Channels permission")
            return
        await asyncio.to_thread(b.store.set_consent, key, True, who)
        log.info("channel %s: logging turned on by %s", key, who)
        await ctx.send(
            "logging this channel's messages for retraining the clone (`!consent off` stops it and deletes them)"
        )
    elif choice == "off":
        deleted = await asyncio.to_thread(b.store.set_consent, key, False, who)
        log.info("channel %s: logging turned off by %s, %d messages deleted", key, who, deleted)
        await ctx.send(f"logging off; {deleted} stored messages of this channel deleted")
    else:
        state = "on" if b.store.has_consent(key) else "off"
        await ctx.send(f"logging is {state} here; `!consent on` or `!consent off`")


@commands.command()
async def correct(ctx: commands.Context, *, text: str = "") -> None:
    """`!correct TEXT`: what the person would really have written instead of the clone's message (reply to it, or
    it applies to the clone's latest message here)."""
    b = _bot(ctx)
    if b.store is None:
        await ctx.send("feedback is not stored: this bot has no conversation store")
        return
    ref = ctx.message.reference.message_id if ctx.message.reference else None
    try:
        fb = await asyncio.to_thread(
            give_feedback,
            b.store,
            str(ctx.channel.id),
            "correction",
            ctx.author.display_name,
            str(ctx.author.id),
            text,
            str(ref) if ref else None,
            b.chat.cfg.registry,
        )
    except ClonekitError as e:
        await ctx.send(f"correction not taken: {e.message}")
        return
    await ctx.send(f"thanks, correction stored for version {fb['version'] or b.chat.cfg.model}")


@commands.command()
async def approve(ctx: commands.Context, version: str = "") -> None:
    """`!approve VERSION`: an administrator approves a registry version that passed the gate."""
    b = _bot(ctx)
    if not b.chat.cfg.registry:
        await ctx.send("no registry is configured for this bot")
        return
    if not _author_can(ctx, "administrator"):
        await ctx.send("approving a version needs the Administrator permission")
        return
    from clonekit.registry import approve_version

    who = f"discord:{ctx.author.display_name} ({ctx.author.id})"
    try:
        vid = await asyncio.to_thread(
            approve_version,
            b.chat.cfg.registry,
            version or "candidate",
            who,
            f"approved in Discord channel {ctx.channel.id}",
        )
    except ClonekitError as e:
        await ctx.send(f"not approved: {e.message}")
        return
    await ctx.send(f"{vid} approved; promote it with `clonekit registry promote {vid} --server URL`")


def run_bot(bot: CloneBot, token: str, token_env: str) -> None:
    """Run until stopped; what Discord refuses becomes one clear error."""
    import aiohttp

    try:
        bot.run(token, log_handler=None)
    except discord.LoginFailure:
        raise ClonekitError(f"Discord refused the token in ${token_env} (reset it in the Developer Portal)") from None
    except discord.PrivilegedIntentsRequired:
        raise ClonekitError(
            'Discord refused the Message Content intent: turn on "Message Content Intent" under '
            "Bot in the Developer Portal"
        ) from None
    except aiohttp.ClientConnectorError as e:
        raise ClonekitError(f"cannot reach Discord: {e}") from None
