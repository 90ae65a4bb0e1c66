from clonekit.repetition import is_degenerate, max_consecutive_repeat, normalize


def test_loops_are_detected():
    assert is_degenerate("lol lol lol")
    assert is_degenerate("öyük çalışma, öyük çalışma, öyük çalışma, ö")
    assert is_degenerate("ok!!!!!!!!!!")
    assert max_consecutive_repeat("a b a b a b c") == 3


def test_normal_replies_are_not():
    for text in ("pizza mı? ben varım abi", "lol same", "haha yes yes", "I could be persuaded, provided we go early.",
                 "hahahaha", ""):
        assert not is_degenerate(text), text


def test_normalize():
    assert normalize("  LOL   same!! ") == "lol same" == normalize("lol same")
