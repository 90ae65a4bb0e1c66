"""Log, rendering, debounce and loop logic, with simulated events and a controlled clock."""

from clonekit.bot.conversation import ChannelLog, bubbles, strip_name_prefix
from clonekit.bot.core import _dedupe_lines
from clonekit.bot.debounce import Debouncer
from clonekit.bot.loops import LoopGuard


def test_log_renders_like_the_training_data():
    log = ChannelLog(max_turns=20)
    log.add("Maya", "anyone up for pizza lol")
    log.add("Maya", "tonight?")  # same speaker: joined with a newline, as in prep
    log.add("Oliver", "I could be persuaded.")
    log.add("Deniz", "ben varım abi", is_clone=True)
    log.add("Priya", "yesss")
    assert log.messages("You are Deniz.") == [
        {"role": "system", "content": "You are Deniz."},
        {"role": "user", "name": "Maya", "content": "anyone up for pizza lol\ntonight?"},
        {"role": "user", "name": "Oliver", "content": "I could be persuaded."},
        {"role": "assistant", "content": "ben varım abi"},
        {"role": "user", "name": "Priya", "content": "yesss"},
    ]


def test_log_keeps_the_last_turns_and_trims():
    log = ChannelLog(max_turns=3)
    for i, who in enumerate(["A", "B", "A", "B", "A"]):
        log.add(who, str(i))
    assert [t.text for t in log.turns] == ["2", "3", "4"]
    log.trim(1)
    assert [t.text for t in log.turns] == ["4"]


def test_output_like_a_person():
    assert strip_name_prefix("Deniz: tamam abi\ndeniz : geliyorum", ["Deniz"]) == "tamam abi\ngeliyorum"
    assert strip_name_prefix("Deniz said hi", ["Deniz"]) == "Deniz said hi"
    assert bubbles("tamam\n\n  geliyorum \n") == ["tamam", "geliyorum"]
    assert _dedupe_lines("Milkarım, bine olur\nMilkarım, bine olur") == "Milkarım, bine olur"


def test_debounce_waits_for_the_quiet_window_and_restarts():
    d = Debouncer(quiet_seconds=25)
    assert not d.due(0)
    d.message(now=0)
    assert not d.due(10)
    assert d.wait_seconds(10) == 15
    d.message(now=20)  # a new message restarts the window
    assert not d.due(30)
    assert d.due(45)
    generation = d.generation
    d.message(now=46)  # arrives while the reply is being generated: that reply is stale
    assert d.generation != generation
    d.answered()
    assert not d.due(100)


def test_debounce_modes():
    mention = Debouncer(0, mode="mention")
    mention.message(0)
    assert not mention.due(1)
    mention.message(2, mentioned=True)
    assert mention.due(3)
    never = Debouncer(0, mode="probability", probability=0.0, seed=1)
    always = Debouncer(0, mode="probability", probability=1.0, seed=1)
    for t in range(5):
        never.message(t)
        always.message(t)
    assert not never.due(10)
    assert always.due(10)


def test_loop_guard():
    g = LoopGuard()
    assert g.problem("lol lol lol lol") == "degenerate"
    assert g.problem("  ") == "empty"
    assert g.problem("tamam abi") is None
    g.sent("tamam abi")
    assert g.problem("Tamam abi!") == "repeat"  # normalized
    assert g.problem("tamam abi, bence") is None  # similar, not near-identical
    assert not g.would_loop("tamam abi")
    g.sent("tamam abi!")
    assert g.would_loop("TAMAM ABI")
    g.reset()
    assert g.problem("tamam abi") is None


def test_naming_the_clone_is_a_mention():
    from clonekit.bot.core import CloneChat
    from clonekit.config import BotConfig

    chat = CloneChat(BotConfig(clone_name="Deniz", mode="mention", quiet_seconds=0), clock=lambda: 0.0)
    chat.heard("c", "Maya", "pizza?")
    assert not chat.channel("c").debounce.due(0.0)
    chat.heard("c", "Maya", "deniz you in?")
    assert chat.channel("c").debounce.due(0.0)
