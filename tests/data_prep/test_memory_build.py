"""Memory in training examples: recalled only from sessions before the example's own, never later ones."""

from clonekit.chat import Turn
from clonekit.config import MemoryConfig
from clonekit.data_prep.memory_build import plan_memory, session_key
from clonekit.data_prep.sessions import Session
from clonekit.memory import MemoryStore


def _session(day: int, turns: list[tuple[str, str]]) -> Session:
    start = f"2024-03-{day:02d}T07:00:00"
    s = Session("whatsapp", "crew", start, start, 0.0, 0.0)
    s.turns = [Turn(who, who == "Maya", [text], start) for who, text in turns]
    return s


def test_blocks_come_from_earlier_sessions_only(tmp_path):
    sessions = [
        _session(1, [("Deniz", "what is the name of your new pet?"), ("Maya", "tell me yours first")]),
        _session(3, [("Deniz", "we got a new pet!! a kitten called Pixel"), ("Maya", "omg congrats")]),
        _session(5, [("Deniz", "maya what's the name of my new pet again?"), ("Maya", "pixel!")]),
        _session(9, [("Deniz", "big news, my new pet has a sister called Mochi"), ("Maya", "two cats!!")]),
    ]
    blocks, summary = plan_memory(
        sessions, MemoryConfig(enabled=True), lambda turns: [(0, len(turns))], tmp_path / "memory.sqlite"
    )
    first, told, asked, later = (blocks[session_key(s)][0] for s in sessions)
    assert first is None
    assert told is None
    assert "Pixel" in asked
    assert "Mochi" not in asked  # said four days after the question
    assert "Pixel" in later
    assert summary["snippets"] == 2  # the two statements; questions are not remembered
    store = MemoryStore(tmp_path / "memory.sqlite")
    assert [s.text for s in store.snippets("Deniz")][0].endswith("Pixel")
    store.close()
