"""`clonekit chat`, `discord` and `conversations`: the clone in a terminal or on Discord, and its store."""

from __future__ import annotations

from pathlib import Path

import typer

from clonekit.cli import render
from clonekit.cli.common import SET_OPT, app, console, err_console, user_errors
from clonekit.config import BotConfig, field_help
from clonekit.errors import ClonekitError

# The options `chat` and `discord` share, declared once; their help is the BotConfig field's description.
BASE_URL_OPT = typer.Option(None, help=field_help(BotConfig, "base_url"))
MODEL_OPT = typer.Option(None, help=field_help(BotConfig, "model"))
ADAPTER_OPT = typer.Option(None, help=field_help(BotConfig, "adapter"))
BOT_CONFIG_OPT = typer.Option(None, "--config", "-c", help="YAML with BotConfig fields (configs/bot.yaml).")
SPEAK_OPT = typer.Option(None, "--speak", help=field_help(BotConfig, "mode"))
SPEAK_THRESHOLD_OPT = typer.Option(None, "--speak-threshold", help=field_help(BotConfig, "speak_threshold"))
MEMORY_OPT = typer.Option(None, "--memory", help=field_help(BotConfig, "memory"))
EVENT_LOG_OPT = typer.Option(None, "--event-log", help=field_help(BotConfig, "event_log"))


def bot_config(
    config: Path | None, sets: list[str] | None, endpoint: Path | None, paths: dict[str, Path | None], **options
) -> BotConfig:
    """The BotConfig of `chat` and `discord`: the YAML, then an endpoint file, then the options given (paths as
    text), then `--set`."""
    from clonekit.config import apply_sets, load_config
    from clonekit.contracts import EndpointFile

    given = {k: str(v) for k, v in paths.items() if v is not None}
    base_url = options.get("base_url")
    if endpoint is None and base_url and base_url.endswith(".json") and Path(base_url).is_file():
        endpoint, options["base_url"] = Path(base_url), None  # --base-url FILE: an endpoint file, as --endpoint
    if endpoint is not None:
        found = EndpointFile.load(endpoint)
        options["base_url"] = options.get("base_url") or found.base_url
        options["model"] = options.get("model") or found.model
        given["api_key_env"] = found.key_env or "CLONEKIT_API_KEY"
    return apply_sets(load_config(BotConfig, config, **given, **options), sets)


ENDPOINT_FILE_OPT = typer.Option(
    None,
    "--endpoint",
    help="An endpoint file (`clonekit hosted finetune` writes one): its base URL, model and key variable, as "
    "--base-url and --model give them.",
)
LOOP_CHECK_OPT = typer.Option(
    False,
    help="With --script: summarize the clone's replies and exit 1 if they loop (3+ near-identical replies in a row, "
    "clonekit.repetition).",
)
CHAT_STORE_OPT = typer.Option(
    None, help=field_help(BotConfig, "store", "; with --consent this chat is logged, and /good, /bad, /correct kept")
)


@app.command()
@user_errors
def chat(
    base_url: str | None = BASE_URL_OPT,
    endpoint: Path | None = ENDPOINT_FILE_OPT,
    model: str | None = MODEL_OPT,
    adapter: Path | None = ADAPTER_OPT,
    config: Path | None = BOT_CONFIG_OPT,
    script: Path | None = typer.Option(
        None, help="Run a script of `Speaker: text` lines (blank line = let the clone answer)."
    ),
    quiet: float | None = typer.Option(None, help=field_help(BotConfig, "quiet_seconds", "; 0 in scripts")),
    speaker: str = typer.Option("me", "--as", help="Who you are in the chat (switch with /as NAME)."),
    name: str | None = typer.Option(None, help=field_help(BotConfig, "clone_name")),
    loop_check: bool = LOOP_CHECK_OPT,
    store: Path | None = CHAT_STORE_OPT,
    consent: bool = typer.Option(False, "--consent", help="Everyone in this terminal chat consents to logging it."),
    registry: Path | None = typer.Option(None, help=field_help(BotConfig, "registry")),
    speak: str | None = SPEAK_OPT,
    speak_threshold: float | None = SPEAK_THRESHOLD_OPT,
    memory: Path | None = MEMORY_OPT,
    event_log: Path | None = EVENT_LOG_OPT,
    sets: list[str] | None = SET_OPT,
):
    """Talk to a clone in the terminal, as one or several speakers; the key comes from $CLONEKIT_API_KEY
    (or the config's api_key_env). /good, /bad and /correct TEXT give feedback on the clone's last reply."""
    import logging

    from clonekit.bot.core import CloneChat
    from clonekit.bot.loops import loop_check_line
    from clonekit.bot.terminal import run_terminal

    logging.basicConfig(level=logging.WARNING, format="[%(levelname)s %(name)s] %(message)s")
    paths = {"adapter": adapter, "store": store, "registry": registry, "memory": memory, "event_log": event_log}
    cfg = bot_config(
        config,
        sets,
        endpoint,
        paths,
        base_url=base_url,
        model=model,
        quiet_seconds=quiet if quiet is not None else (0.0 if script else None),
        clone_name=name,
        mode=speak,
        speak_threshold=speak_threshold,
    )
    core = CloneChat(cfg)
    replies = run_terminal(core, script, speaker, cfg.store, consent, cfg.quiet_seconds)
    render.events(core.events)
    if loop_check and replies is not None:
        line, loops = loop_check_line(replies)
        err_console.print(line, highlight=False)
        if loops:
            raise typer.Exit(1)


@app.command("discord")
@user_errors
def discord_cmd(
    config: Path | None = BOT_CONFIG_OPT,
    base_url: str | None = BASE_URL_OPT,
    endpoint: Path | None = ENDPOINT_FILE_OPT,
    model: str | None = MODEL_OPT,
    adapter: Path | None = ADAPTER_OPT,
    channel: list[str] | None = typer.Option(
        None, "--channel", help="Allowed channel id or name (repeatable; replaces the config's list)."
    ),
    store: Path | None = typer.Option(None, help=field_help(BotConfig, "store", "; `!consent on` per channel")),
    verbose: bool = typer.Option(False, "--verbose", "-v", help="Log every event, not only warnings."),
    speak: str | None = SPEAK_OPT,
    speak_threshold: float | None = SPEAK_THRESHOLD_OPT,
    memory: Path | None = MEMORY_OPT,
    event_log: Path | None = EVENT_LOG_OPT,
    sets: list[str] | None = SET_OPT,
):
    """Run the clone as a Discord bot in allow-listed channels. The token comes from $DISCORD_TOKEN; enable the
    Message Content Intent in the Developer Portal. Commands: !reset, !status, !consent on|off, !correct TEXT,
    !approve VERSION; 👍/👎 reactions on the clone's messages are feedback."""
    import logging

    from clonekit.bot.core import CloneChat
    from clonekit.bot.discord_bot import CloneBot, read_token, run_bot
    from clonekit.bot.store import ConversationStore

    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING, format="%(asctime)s [%(levelname)s %(name)s] %(message)s"
    )
    paths = {"adapter": adapter, "store": store, "memory": memory, "event_log": event_log}
    cfg = bot_config(
        config, sets, endpoint, paths, base_url=base_url, model=model, mode=speak, speak_threshold=speak_threshold
    )
    if channel:
        cfg.discord.channels = list(channel)
    token = read_token(cfg.discord)
    db = ConversationStore(cfg.store) if cfg.store else None
    bot = CloneBot(CloneChat(cfg), cfg.discord, db)
    console.print(
        f"Discord bot for {bot.chat.identity.clone_name} ({cfg.model} at {cfg.base_url}); channels: "
        f"{', '.join(str(c) for c in cfg.discord.channels)}; logging: {cfg.store or 'off'}",
        highlight=False,
    )
    try:
        run_bot(bot, token, cfg.discord.token_env)
    finally:
        if db:
            db.close()


@app.command()
@user_errors
def conversations(
    store: Path = typer.Argument(..., help="The bot's SQLite conversation store."),
    out: Path | None = typer.Option(
        None,
        "--out",
        "-o",
        help="Write consenting channels' messages as messages.jsonl (input of `clonekit prep build`).",
    ),
    channel: str | None = typer.Option(None, help="Only this channel id."),
):
    """Show what the bot's conversation store holds (per channel: consent, messages), or export it for retraining.
    The clone's own replies are exported as bot messages, so `prep build` never trains on them."""
    from clonekit.bot.store import ConversationStore

    if not store.exists():
        raise ClonekitError("store not found", store)
    db = ConversationStore(store)
    try:
        render.channels(db.channels(), db.count)
        if out:
            n = db.export_messages(out, channel)
            console.print(f"wrote {n} messages to {out}; next: clonekit prep build {out} --target NAME -o DIR")
    finally:
        db.close()
