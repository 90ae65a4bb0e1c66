"""Planted facts for the sample group chat: what each friend tells the group (a new pet's name, a new job, a move
to another city, ...) and, days later, asks the target about ("maya do u remember what my kitten is called?").

The clone can only answer such a question from memory (clonekit/memory.py): every telling names a value drawn
fresh for that episode, so the values cannot be learnt as "Deniz's cat is Pixel". The answers are written to
`facts.jsonl` beside the sample, so that `clonekit compare --facts` measures recall with and without memory.
The episodes are denser in the last weeks, where the held-out sessions are (the latest 10 %).
"""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass

from clonekit.samples.messages import SampleMessage

PETS = (
    "Pixel Biscuit Mochi Pepper Luna Ziggy Noodle Olive Tofu Waffles Pickle Bruno Nala Simba Kiwi Mango Peanut "
    "Ginger Oreo Pumpkin Clover Hazel Juniper Marble Nugget Pretzel Sushi Toffee Truffle Willow".split()
)
CITIES = (
    "Leeds Porto Lyon Bergen Ghent Utrecht Krakow Valencia Bologna Tallinn Graz Aarhus Bilbao Cork Gdansk "
    "Malmo Seville Turin Brno Ljubljana Rennes Freiburg Nantes Coimbra Trieste Lund Galway Tampere Split Bremen".split()
)
JOBS = [
    "nurse",
    "barista",
    "pilot",
    "architect",
    "librarian",
    "paramedic",
    "florist",
    "tattoo artist",
    "chef",
    "translator",
    "zookeeper",
    "dentist",
    "park ranger",
    "sommelier",
    "radio host",
    "carpenter",
    "lifeguard",
    "pharmacist",
    "photographer",
    "beekeeper",
    "baker",
    "locksmith",
    "surveyor",
    "tour guide",
]

BANDS = [
    "the Velvet Owls",
    "Paper Lanterns",
    "Neon Harbour",
    "the Midnight Ferns",
    "Glass Tigers",
    "Static Bloom",
    "the Amber Kites",
    "Lunar Tides",
    "Copper Foxes",
    "the Quiet Storms",
    "Violet Radio",
    "Salt & Ember",
]
BABIES = "Ada Leo Mila Theo Iris Noah Elif Arlo Zoe Felix Lina Omar Rosa Emil Nora Hugo Mira Kai Alba Luca".split()

# kind: (values, how the friend tells it, how they ask the target later)
KINDS = {
    "pet": (
        PETS,
        [
            "we got a new pet!! a kitten called {v}",
            "adopted a puppy today, our new pet is called {v}",
            "new pet in the flat: a hamster, we called him {v}",
        ],
        ["maya do u remember what my new pet is called?", "maya what's the name of my new pet again?"],
    ),
    "city": (
        CITIES,
        [
            "big news, im moving to {v} next month",
            "got the flat, we're moving to {v}!",
            "so it's official, i'm moving to {v} in the spring",
        ],
        ["maya which city am i moving to again?", "maya remember where i'm moving to?"],
    ),
    "job": (
        JOBS,
        [
            "i got the job!! my new job: {v}, starting monday",
            "new job: i'm going to be a {v}",
            "signed the contract today, new job as a {v} from next week",
        ],
        ["maya do u remember what my new job is?", "maya what's my new job again?"],
    ),
    "band": (
        BANDS,
        [
            "got tickets to see {v} live next month!!",
            "my favourite band now is {v}, obsessed",
            "going to the {v} concert, can't wait",
        ],
        ["maya which band am i seeing live again?", "maya remember what band i'm obsessed with?"],
    ),
    "baby": (
        BABIES,
        [
            "my sister had her baby!! they named her {v}",
            "i'm an aunt now, the baby is called {v}",
            "the baby's here, her name is {v}",
        ],
        ["maya do u remember my sister's baby's name?", "maya what's the baby called again?"],
    ),
}
ACKS = [
    "yes!! thank u",
    "exactly haha",
    "good memory",
    "yep that's the one",
    "correct",
    "knew u'd remember",
    "yesss",
    "ha, spot on",
    "wow ok u do listen",
    "10 points",
]
ACK_TAILS = ["", " 😂", " 🙌", " ha", "!", " :)"]
QUESTION_OPENERS = ["maya", "maya quick one,", "hey maya", "maya pop quiz:", "ok maya", "maya sorry but"]
QUESTION_TAILS = ["", " 😅", " hehe", " haha", " i forget if i told u", " no cheating"]
REACTION_OPENERS = ["omg", "ooh", "no way", "ok", "yay", "aaa", "stop", "ngl", "ahh", "oh wow"]
REACTION_BODIES = [
    "congrats!!",
    "thats amazing",
    "love that",
    "thats huge",
    "so happy for u",
    "need to hear more",
    "big news",
    "amazing news",
    "love this for u",
    "about time",
]
REACTION_TAILS = ["", "!!", " 😍", " 🎉", " yay", " omg", " ❤️", " xd", " 🙌", "!!!"]
ANSWER_OPENERS = ["", "umm ", "ooh ", "obviously ", "hmm ", "easy, "]
ANSWERS = [
    "{v}",
    "{v}!",
    "it's {v} right?",
    "{v} how could i forget",
    "{v}!! how's that going",
    "{v}, u told me",
    "{v} obviously",
    "{v}?",
]
ANSWER_TAILS = ["", " 😂", " lol", " haha", " xd", "!!"]


def _fresh(rnd: random.Random, said: set[str], draw) -> str:
    """A text its author has not written before (redrawn up to 30 times), as everyone in the sample chat. `draw` is
    called here, at once, so the loop variables it reads are the current ones."""
    for _ in range(30):
        text = draw()
        if text not in said:
            break
    said.add(text)
    return text


@dataclass
class Fact:
    person: str
    kind: str
    value: str
    told: dt.datetime
    asked: dt.datetime
    question: str


def plant_facts(
    rnd: random.Random, people: list[str], target: str, start: dt.datetime, days: int
) -> tuple[list[SampleMessage], list[Fact]]:
    """Telling and asking episodes early in the morning (before the day's conversations), each its own session:
    tellings at 6:00, 6:12, ...; the question 1-6 days later (1-3 in the last quarter) at 7:00, 7:10, .... A person
    tells nothing new of one kind before they were asked about the last one, so every question has one answer.
    About one episode a day, up to seven a day in the last quarter of the corpus (where the held-out split is)."""
    msgs: list[SampleMessage] = []
    facts: list[Fact] = []
    friends = [p for p in people if p != target]
    late = int(days * 0.75)
    asks_on: dict[int, int] = {}
    said_by: dict[str, set[str]] = {}
    open_until: dict[tuple[str, str], int] = {}  # (person, kind) -> the day it is asked
    for day in range(days - 1):
        for k in range(7 if day >= late else rnd.choice([0, 1, 1, 2])):
            free = [(p, kind) for p in friends for kind in KINDS if open_until.get((p, kind), -1) < day]
            asked_day = min(days - 1, day + rnd.randint(1, 6 if day < late else 3))
            if not free or asks_on.get(asked_day, 0) >= 11:
                continue
            person, kind = rnd.choice(free)
            open_until[(person, kind)] = asked_day
            slot = asks_on[asked_day] = asks_on.get(asked_day, 0) + 1
            values, tells, asks = KINDS[kind]
            value = rnd.choice(values)
            told = start + dt.timedelta(days=day, hours=6, minutes=12 * k, seconds=rnd.randint(0, 60))
            asked = start + dt.timedelta(days=asked_day, hours=7, minutes=10 * (slot - 1), seconds=rnd.randint(0, 60))
            said = said_by.setdefault(person, set())
            tell = _fresh(rnd, said, lambda: rnd.choice(tells).format(v=value))  # noqa: B023
            question = _fresh(
                rnd,
                said,
                lambda: f"{rnd.choice(QUESTION_OPENERS)} {rnd.choice(asks)[5:]}{rnd.choice(QUESTION_TAILS)}",  # noqa: B023
            )
            ack = _fresh(rnd, said, lambda: rnd.choice(ACKS) + rnd.choice(ACK_TAILS))
            mine = said_by.setdefault(target, set())
            reaction = _fresh(
                rnd,
                mine,
                lambda: f"{rnd.choice(REACTION_OPENERS)} {rnd.choice(REACTION_BODIES)}{rnd.choice(REACTION_TAILS)}",
            )
            answer = _fresh(
                rnd,
                mine,
                lambda: (
                    rnd.choice(ANSWER_OPENERS) + rnd.choice(ANSWERS).format(v=value.lower()) + rnd.choice(ANSWER_TAILS)  # noqa: B023
                ),
            )
            msgs += [
                SampleMessage(told, person, tell),
                SampleMessage(told + dt.timedelta(seconds=rnd.randint(20, 90)), target, reaction),
                SampleMessage(asked, person, question),
                SampleMessage(asked + dt.timedelta(seconds=rnd.randint(20, 90)), target, answer),
                SampleMessage(asked + dt.timedelta(seconds=rnd.randint(100, 200)), person, ack),
            ]
            facts.append(Fact(person, kind, value, told, asked, question))
    return msgs, facts
