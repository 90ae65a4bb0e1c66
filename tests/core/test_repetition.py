"""The one definition of near-identical replies, loops, cross-turn repeats and degenerate replies."""

from clonekit.repetition import (
    cross_turn_repeats,
    is_degenerate,
    is_loop,
    longest_near_identical_run,
    max_consecutive_repeat,
    near_identical,
    normalize,
    repeats_earlier,
    would_loop,
)


def test_degenerate_replies_are_detected():
    assert is_degenerate("lol lol lol")
    assert is_degenerate("öyük çalışma, öyük çalışma, öyük çalışma, ö")
    assert is_degenerate("ok!!!!!!!!!!")
    assert max_consecutive_repeat("a b a b a b c") == 3


def test_normal_replies_are_not_degenerate():
    for text in (
        "pizza mı? ben varım abi",
        "lol same",
        "haha yes yes",
        "I could be persuaded, provided we go early.",
        "hahahaha",
        "",
    ):
        assert not is_degenerate(text), text


def test_normalize():
    assert normalize("  LOL   same!! ") == "lol same" == normalize("lol same")


def test_near_identical():
    assert near_identical("lol", "LOL!")
    assert near_identical("benim yes, benim mi", "benim yes benim mi")  # one comma apart
    assert not near_identical("lol", "lol xd")
    assert not near_identical("ok", "")
    assert not near_identical("see you at 8 then", "see you at 9 tomorrow")


def test_loops():
    assert is_loop(["lol", "lol", "lol."])
    assert not is_loop(["lol", "lol", "ok", "lol"])  # not consecutive
    assert is_loop(["benim yes, benim mi", "benim yes, benim mi!", "benim yes benim mi"])
    assert not is_loop([])
    assert longest_near_identical_run(["a b", "x", "x!", "X", "y"]) == 3
    assert would_loop(["ok", "lol", "LOL"], "lol!")
    assert not would_loop(["lol"], "lol")  # the third in a row would, the second does not


def test_cross_turn_repeats():
    assert repeats_earlier("lol!", ["ok", "lol"])
    assert not repeats_earlier("lol", [])
    assert cross_turn_repeats(["lol", "ok", "LOL", "", "", "ok."]) == 2  # empty replies never count
