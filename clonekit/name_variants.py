"""The forms a name takes in chat text, for redacting a person who did not consent.

"Priya" is also written "priya", "PRIYA", "Príya" (an accent typed or dropped), "Priyaaa" (letters held),
"Priya's" and "Priyas" (possessives), and "Pri" (a nickname: declared ones, and the name's first letters).
`name_pattern` turns a name into one regex for all of these; `short_forms` lists the automatic nicknames.
"""

from __future__ import annotations

import re
import unicodedata
from functools import cache


def fold(text: str) -> str:
    """Lowercase without accents: "Príya" -> "priya"."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(c for c in decomposed if not unicodedata.combining(c))


@cache
def _letter_forms() -> dict[str, str]:
    """Base letter -> every Latin letter that folds to it ("i" -> "iíìîïīĭįı...")."""
    forms: dict[str, set[str]] = {}
    for code in list(range(0x41, 0x5B)) + list(range(0x61, 0x7B)) + list(range(0xC0, 0x250)):
        c = chr(code)
        base = fold(c)
        if len(base) == 1 and base.isascii() and base.isalpha():
            forms.setdefault(base, set()).update((c, c.lower(), c.upper()))
    forms.setdefault("i", set()).update("ıİ")
    return {base: "".join(sorted(chars)) for base, chars in forms.items()}


def name_pattern(name: str) -> str:
    """A regex (use with re.IGNORECASE) for `name` with any accents, each letter held any number of times
    ("Priyaaa"), and words joined by space, underscore, dot or hyphen."""
    forms = _letter_forms()
    parts = []
    for c in fold(name):
        if c in forms:
            parts.append("[" + re.escape(forms[c]) + "]+")
        elif c.isspace() or c in "_.-":
            parts.append(r"[\s_.\-]*")
        else:
            parts.append(re.escape(c) + "+")
    return "".join(parts)


def match_key(name: str) -> str:
    """A name as exclusions compare it: no case, accents, held letters or possessive ("Príyaaa's" -> "priya")."""
    key = re.sub(r"['’]s$", "", fold(name.strip().lstrip("@~")))
    return re.sub(r"(.)\1+", r"\1", key)


# common words that are also the first letters of a name ("The" of Theodore, "Can" of Candice): never a nickname
COMMON_WORDS = frozenset(
    """the and for are but not you all any can car her his him was one our out day get has how man new now old see
    two way who boy did its let put say she too use mar jan dec nov oct sep aug jun jul apr feb ran hen art ash pat
    mad sat sun dog cat hit ban bar bat bed bee big bit box bus buy cop cow cry cup cut dad die dig dry due ear eat
    egg end eye fan far fat few fit fix fly fun gas god got gun guy hat hot ice ill job joy key kid lab law lay leg
    lie lip lot low map may mix mom net nor odd off oil own pan pay pen pet pie pig pin pop pot raw red rid row rub
    run sad sea set sir sit six ski sky son tax tea ten tie tip toe top toy try war wet win yes yet zoo able also
    area away back ball band bank base bear beat best bird blue boat body bone book born both call came card care
    case cash cell chat city cold come cook cool cost dark data date dead deal dear deep door down draw drop each
    east easy edge else even ever face fact fair fall farm fast fear feel fill film find fine fire fish five flat
    food foot form four free from full fund game gave girl give glad goal gold gone good gray grew grow hair half
    hall hand hard have head hear heat held help here high hill hold hole home hope hour huge idea into iron item
    join jump just keep kind king knew know lack lady land last late lead left less life lift like line list live
    load loan lock long look lord lose loss lost love luck made mail main make many mark mass meet mind miss more
    most move much must name near neck need news next nice nine none nose note once only open over page pain pair
    park part pass past path pick plan play plus poor post pull pure push race rain rate read real rest rich ride
    ring rise risk road rock role roll roof room root rose rule safe said sale salt same save seat seem self sell
    send ship shop shot show shut sick side sign sing sink site size skin slow snow soft soil sold some song soon
    sort spot star stay step stop such suit sure take talk tall team tell term test text than that them then they
    thin this thus till time tiny told tone took tool tour town tree trip true turn type unit upon used user vast
    very view vote wait walk wall want warm wash wave weak wear week well went were west what when whom wide wife
    wild will wind wine wish with wood word wore work yard year your zero christ""".split()
)


def short_forms(name: str) -> list[str]:
    """Automatic nicknames: the first 3 or more letters of a first name of 5 or more ("Pri", "Priy" of Priya),
    less common words."""
    word = name.strip().split()[0] if name.strip() else ""
    if len(word) < 5 or not word.isalpha():
        return []
    return [word[:n] for n in range(3, len(word) - 1) if fold(word[:n]) not in COMMON_WORDS]
