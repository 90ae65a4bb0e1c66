"""The Discord layer at discord.py's event level (dpytest: no network), over the loopback endpoint, with the
conversation store in a real SQLite file."""

import asyncio
import sqlite3

import discord
import discord.ext.test as dpytest
import discord.ext.test.backend as back
import pytest
import pytest_asyncio

from clonekit.bot.core import CloneChat
from clonekit.bot.discord_bot import CloneBot, intents, read_token
from clonekit.bot.store import ConversationStore
from clonekit.config import BotConfig, DiscordSettings
from clonekit.errors import ClonekitError

REPLY = "Deniz: tamam abi\ngeliyorum"


@pytest_asyncio.fixture
async def make_bot(endpoint, tmp_path):
    made = []

    async def make(answers=((200, REPLY),), store=False, **cfg):
        e = endpoint(list(answers))
        chat = CloneChat(
            BotConfig(
                base_url=e.url,
                model="clone",
                clone_name="Deniz",
                system_prompt="You are Deniz.",
                quiet_seconds=cfg.pop("quiet_seconds", 0.05),
                typing_seconds_per_char=0,
                **cfg,
            )
        )
        db = ConversationStore(tmp_path / "conversations.sqlite") if store else None
        bot = CloneBot(chat, DiscordSettings(channels=["TextChannel_0"]), db)
        await bot._async_setup_hook()
        # dpytest keeps its fake members in discord.py's member cache, which exists only with the members intent;
        # the real bot needs no such intent (each message carries its author's member data).
        bot._connection._intents.members = True
        bot._connection.member_cache_flags = discord.MemberCacheFlags.from_intents(bot._connection._intents)
        dpytest.configure(bot, text_channels=2, members=["Maya", "Oliver"])
        back.get_state().loop = asyncio.get_running_loop()  # dpytest's state has none; typing() needs it
        for m in dpytest.get_config().members:
            back.update_member(m, nick=m.name)  # display names as in the chat: Maya, Oliver
        made.append(bot)
        return bot, e

    yield make
    await dpytest.empty_queue()
    for bot in made:
        for ch in bot.chat.channels.values():
            if ch.task and not ch.task.done():
                ch.task.cancel()
        if bot.store:
            bot.store.close()


def channel(i=0):
    return dpytest.get_config().channels[i]


def member(i):
    return dpytest.get_config().members[i]


async def answered(bot, i=0):
    """Wait for the channel's pending answer (quiet window, generation, bubbles) to finish."""
    task = bot.chat.channel(str(channel(i).id)).task
    if task:
        await asyncio.wait_for(task, 10)


def sent():
    out = []
    while not dpytest.sent_queue.empty():
        out.append(dpytest.get_message().content)
    return out


@pytest.mark.asyncio
async def test_answers_after_the_quiet_window_as_bubbles_with_every_speaker_named(make_bot):
    bot, e = await make_bot()
    await dpytest.message("anyone up for pizza lol", member=member(0))
    await dpytest.message("I could be persuaded.", member=member(1))
    assert sent() == []  # still inside the quiet window
    await answered(bot)
    assert sent() == ["tamam abi", "geliyorum"]  # one message per line, the echoed name stripped
    assert len(e.requests) == 1
    assert e.requests[0]["messages"] == [
        {"role": "system", "content": "You are Deniz."},
        {"role": "user", "name": "Maya", "content": "anyone up for pizza lol"},
        {"role": "user", "name": "Oliver", "content": "I could be persuaded."},
    ]
    assert bot.profile.name.startswith("AI clone of Deniz")  # the presence it logs in with


@pytest.mark.asyncio
async def test_a_new_message_restarts_the_wait(make_bot):
    bot, e = await make_bot(quiet_seconds=0.3)
    await dpytest.message("pizza?", member=member(0))
    first = bot.chat.channel(str(channel().id)).task
    await asyncio.sleep(0.1)
    await dpytest.message("or burgers", member=member(0))
    await answered(bot)
    assert first.cancelled()
    assert len(e.requests) == 1
    assert e.requests[0]["messages"][-1]["content"] == "pizza?\nor burgers"
    assert bot.chat.events["answer_restarted"] == 1


@pytest.mark.asyncio
async def test_ignores_bots_itself_and_channels_not_allowed(make_bot):
    bot, e = await make_bot()
    other_bot = back.make_user("QuizBot", 1)
    other_bot.bot = True
    back.make_message("quiz time!", back.make_member(other_bot, channel().guild), channel())
    back.make_message("tamam abi", bot.user, channel())
    await dpytest.message("pizza?", channel=channel(1), member=member(0))  # not in the allow-list
    await dpytest.run_all_events()
    await asyncio.sleep(0.1)
    assert bot.chat.channels == {}
    assert e.requests == []
    assert sent() == []


@pytest.mark.asyncio
async def test_reset_and_status(make_bot):
    bot, e = await make_bot()
    await dpytest.message("pizza?", member=member(0))
    await answered(bot)
    sent()
    await dpytest.message("!status", member=member(0))
    status = sent()[0]
    assert status.startswith("AI clone of Deniz")
    assert f"model: clone at {e.url}" in status
    assert "2 turns in the log" in status
    assert "replies 1" in status
    await dpytest.message("!reset", member=member(0))
    assert sent() == ["(conversation log cleared)"]
    assert len(bot.chat.channel(str(channel().id)).log.turns) == 0


@pytest.mark.asyncio
async def test_conversations_are_stored_only_with_consent(make_bot, tmp_path):
    bot, _ = await make_bot(store=True)
    key = str(channel().id)
    await dpytest.message("before consent", member=member(0))
    await answered(bot)
    assert bot.store.count() == 0
    await dpytest.message("!consent on", member=member(0))
    assert sent()[-1] == "turning logging on needs the Manage Channels permission"
    mods = back.make_role("mods", channel().guild, permissions=discord.Permissions(manage_channels=True).value)
    await dpytest.add_role(member(0), mods)
    await dpytest.message("!consent on", member=member(0))
    assert sent()[-1].startswith("logging this channel")
    await dpytest.message("pizza at 8?", member=member(1))
    await answered(bot)
    bot.store.flush()  # rows are written by the store's background writer
    rows = (
        sqlite3.connect(tmp_path / "conversations.sqlite")
        .execute("SELECT author, text, is_clone FROM messages WHERE channel = ? ORDER BY id", (key,))
        .fetchall()
    )
    assert rows == [("Oliver", "pizza at 8?", 0), ("Deniz", "tamam abi", 1), ("Deniz", "geliyorum", 1)]
    out = tmp_path / "messages.jsonl"
    assert bot.store.export_messages(out) == 3
    assert '"is_bot":true' in out.read_text().splitlines()[1]  # the clone's replies never become training turns
    await dpytest.message("!consent off", member=member(1))  # anyone may turn it off
    assert sent()[-1] == "logging off; 3 stored messages of this channel deleted"
    await dpytest.message("after consent", member=member(0))
    await answered(bot)
    assert bot.store.count() == 0


def test_setup_errors_are_clear(monkeypatch):
    monkeypatch.delenv("DISCORD_TOKEN", raising=False)
    with pytest.raises(ClonekitError, match=r"\$DISCORD_TOKEN"):
        read_token(DiscordSettings())
    monkeypatch.setenv("DISCORD_TOKEN", "abc")
    assert read_token(DiscordSettings()) == "abc"
    chat = CloneChat(BotConfig(clone_name="Deniz"))
    with pytest.raises(ClonekitError, match="no channels allowed"):
        CloneBot(chat, DiscordSettings())
    wanted = intents()
    assert wanted.message_content
    assert wanted.guild_messages
    assert not wanted.members
    assert not wanted.presences
    assert isinstance(wanted, discord.Intents)
