"""Memory per contact: retrieval by relevance, recency and time; the block's budget; forget leaves nothing behind."""

import numpy as np

from clonekit.chat import turn
from clonekit.memory import MemoryStore, Snippet, memory_block, memory_query, rank, worth_remembering


def _unit(*xs):
    v = np.zeros(384, dtype=np.float32)
    v[: len(xs)] = xs
    return v / np.linalg.norm(v)


SNIPPETS = [
    Snippet("Deniz", "2024-03-01T06:00:00", "we got a new pet!! a kitten called Pixel", "dataset"),
    Snippet("Deniz", "2024-01-01T06:00:00", "adopted a puppy today, our new pet is called Bruno", "dataset"),
    Snippet("Priya", "2024-03-01T06:00:00", "my new pet is a parrot called Kiwi", "dataset"),
    Snippet("Deniz", "2024-03-09T06:00:00", "moving to Leeds next month", "dataset"),
]
VECTORS = np.stack([_unit(1, 0.1), _unit(1, 0.12), _unit(1, 0.1), _unit(0, 1)])


def test_rank_keeps_the_people_the_time_and_prefers_recent():
    found = rank(SNIPPETS, VECTORS, _unit(1, 0.1), ["deniz"], k=2, min_similarity=0.5, now="2024-03-05T00:00:00")
    assert [s.text for s in found] == [SNIPPETS[0].text, SNIPPETS[1].text]  # Priya's and the later move left out
    assert rank(SNIPPETS, VECTORS, _unit(1, 0.1), ["Deniz"], 4, 0.5, now="2023-12-01T00:00:00") == []


def test_block_fits_the_budget_and_query_skips_the_clone():
    block = memory_block(SNIPPETS, budget_tokens=45)
    assert block.startswith("What you remember")
    assert "Pixel" in block
    assert "Leeds" not in block
    assert memory_block(SNIPPETS, budget_tokens=5) is None
    turns = [turn("Deniz", "what's my pet called?"), turn("Maya", "uhh", True)]
    assert memory_query(turns) == "what's my pet called?"
    assert not worth_remembering(turns[0])  # a question, not a fact


def test_forget_leaves_nothing_in_the_file_or_the_wal(tmp_path):
    path = tmp_path / "memory.sqlite"
    store = MemoryStore(path, create=True)
    store.add(SNIPPETS, VECTORS)
    assert store.people() == {"Deniz": 3, "Priya": 1}
    assert store.forget("deniz") == 3
    assert store.people() == {"Priya": 1}
    store.close()
    leftovers = b"".join(p.read_bytes() for p in tmp_path.iterdir())
    for secret in (b"Deniz", b"Pixel", b"Bruno", b"Leeds"):
        assert secret not in leftovers, secret
    assert b"Kiwi" in leftovers  # the check can fail: what stays is found
