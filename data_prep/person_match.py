"""One person across apps: proposals for `clonekit prep people`, confirmed by the user in the prep config's `aliases`.

A person is "Deniz" in WhatsApp, `deniz_k` on Discord and "Deniz K." in Telegram. Identities from different apps
are proposed as the same person when
  - a phone number or an email in their names or ids is the same (strong),
  - their names are the same once case, accents and punctuation are set aside: "Deniz K." = "deniz_k" (strong),
  - one's name is the other's first name plus initials or the start of a handle: "Deniz" ~ "Deniz K." (possible).
Nothing is merged here: the user copies the `aliases:` lines they agree with into the config. Identities on the same
app are never proposed (an app tells its people apart itself).
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from itertools import combinations

import phonenumbers

from clonekit.data_prep.people import People, Person

_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
_NON_ALNUM = re.compile(r"[\W_]+")


def fold(text: str) -> str:
    """Lowercase, accents removed ("Çelik" -> "celik"), for comparing names."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def name_key(text: str) -> str:
    """A name with case, accents and every non-letter removed: "Deniz K." and "deniz_k" -> "denizk"."""
    return _NON_ALNUM.sub("", fold(text))


def tokens(text: str) -> list[str]:
    return [t for t in _NON_ALNUM.split(fold(text)) if t]


def phone_key(text: str) -> str | None:
    """E.164 form of a phone number written as a name or an id ("+1 (555) 123-4567", "sms:+15551234567")."""
    raw = text.rsplit(":", 1)[-1].strip(" ~\u202a\u202c\u200e")
    if not raw.startswith("+") or sum(c.isdigit() for c in raw) < 7:
        return None  # without a country code a number is ambiguous (and a long id is not a phone)
    try:
        number = phonenumbers.parse(raw, None)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_possible_number(number):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def _names(p: Person) -> set[str]:
    return {n for n in list(p.names) + list(p.aka) + [i.split(":", 1)[-1] for i in p.ids] if n and n.strip()}


@dataclass
class Proposal:
    a: Person
    b: Person
    reason: str
    strength: str  # "strong" | "possible"


def _reason(a: Person, b: Person) -> tuple[str, str] | None:
    names_a, names_b = _names(a), _names(b)
    phones_a = {k for n in names_a if (k := phone_key(n))}
    phones_b = {k for n in names_b if (k := phone_key(n))}
    if phones_a & phones_b:
        return "same phone number", "strong"
    emails_a = {e.casefold() for n in names_a for e in _EMAIL.findall(n)}
    emails_b = {e.casefold() for n in names_b for e in _EMAIL.findall(n)}
    if emails_a & emails_b:
        return "same email", "strong"
    keys_a = {name_key(n) for n in names_a} - {""}
    keys_b = {name_key(n) for n in names_b} - {""}
    same = keys_a & keys_b
    if same:
        return f"same name ({sorted(same)[0]})", "strong"
    for x in names_a:
        for y in names_b:
            tx, ty = tokens(x), tokens(y)
            if not tx or not ty or len(tx[0]) < 3 or tx[0] != ty[0]:
                continue
            fewer, more = (tx, ty) if len(tx) <= len(ty) else (ty, tx)
            if more[: len(fewer)] == fewer and all(len(t) == 1 for t in more[len(fewer) :]):
                return f"first name and initials ({x} ~ {y})", "possible"
    for x in keys_a:
        for y in keys_b:
            short, long = sorted((x, y), key=len)
            if len(short) >= 4 and long.startswith(short) and len(long) - len(short) <= 3:
                return f"name at the start of a handle ({short} ~ {long})", "possible"
    return None


def propose_matches(people: People) -> list[Proposal]:
    """Pairs of identities from different apps that look like one person, strong ones first."""
    persons = [p for p in people.persons.values() if not p.is_bot]
    found = []
    for a, b in combinations(persons, 2):
        if a.platforms & b.platforms:
            continue
        why = _reason(a, b)
        if why is not None:
            found.append(Proposal(a, b, *why))
    found.sort(key=lambda pr: (pr.strength != "strong", -(pr.a.messages + pr.b.messages)))
    return found


def aliases_yaml(proposals: list[Proposal]) -> str:
    """The `aliases:` lines for a prep config: the identities linked by the proposals form groups; every identity of
    a group -> the group's busiest identity. One line per identity (a YAML mapping has each key once); lines only
    "possible" links lead to are marked for checking."""
    parent: dict[str, str] = {}
    by_id: dict[str, Person] = {}
    sure: dict[str, bool] = {}

    def root(x: str) -> str:
        while parent.setdefault(x, x) != x:
            x = parent[x]
        return x

    for pr in proposals:
        a, b = pr.a.ids[0], pr.b.ids[0]
        by_id[a], by_id[b] = pr.a, pr.b
        strong = pr.strength == "strong"
        sure[a], sure[b] = sure.get(a, False) or strong, sure.get(b, False) or strong
        parent[root(a)] = root(b)
    groups: dict[str, list[str]] = {}
    for pid in by_id:
        groups.setdefault(root(pid), []).append(pid)
    lines = ["aliases:"]
    for members in groups.values():
        keep = max(members, key=lambda m: (by_id[m].messages, m))
        for other in sorted(m for m in members if m != keep):
            comment = "" if sure[other] and sure[keep] else "  # possible: check"
            lines.append(f'  "{other}": "{keep}"{comment}')
    return "\n".join(lines)
