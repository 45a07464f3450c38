"""AVSD-style dialog text: question types, their answers, and the 6 paraphrased references.

All text is lower-case and space-tokenized like the real files (``he 's playing guitar .``). Each
question type is answerable from exactly the modalities in :data:`NEEDS`; the pronoun of an answer
is the one the question uses, so no answer depends on the caption unless it asks for the room.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from benchmark.data.mini.common import pick, sample
from benchmark.data.mini.vocab import Action, Sound

# Question kinds and the modalities their answers need ([] = the question alone suffices).
NEEDS: dict[str, list[str]] = {
    "video": ["video"],
    "audio": ["audio"],
    "caption": ["caption"],
    "history": ["history"],
    "video+audio": ["video", "audio"],
    "video+caption": ["video", "caption"],
    "fact": [],  # states a fact in the question itself; a later "history" question asks it back
    "filler": [],
}
N_REFS = 6


@dataclass(frozen=True)
class Scene:
    """What one AVSD video shows (each part visible to exactly one modality)."""

    man: str  # "man" | "woman" (caption, and the questioner's pronoun)
    action: Action  # video only
    sound: Sound | None  # audio only (None: the video has no VGGish file)
    room: str  # caption / summary only

    @property
    def he(self) -> str:
        return "he" if self.man == "man" else "she"


@dataclass(frozen=True)
class TurnText:
    kind: str
    question: str
    answer: str  # the original answer (reference #1)
    refs: tuple[str, ...]  # 6 references, refs[0] == answer


_QUESTIONS = {
    "video": ["what is {he} doing ?", "what is {he} doing in the video ?", "what does {he} do in the video ?"],
    "audio": ["what can you hear ?", "what sound can you hear in the video ?", "is there any sound in the video ?"],
    "caption": ["where is {he} ?", "what room is {he} in ?", "where does the video take place ?"],
    "history": ["what color was the {obj} again ?", "what color did you say the {obj} was ?"],
    "video+audio": ["what is {he} doing and what can you hear ?", "what is going on and what do you hear ?"],
    "video+caption": ["what is {he} doing and where ?", "what is {he} doing , and in which room ?"],
    "fact": ["the {obj} is {color} , right ?", "is the {obj} {color} ?", "i think the {obj} is {color} , yes ?"],
}
_ANSWERS = {
    "video": [
        "{he} is {ing} .",
        "{he} 's {ing} .",
        "the {man} is {ing} .",
        "{he} is {ing} in the video .",
        "i think {he} is {ing} .",
        "{he} {third} .",
    ],
    "audio": [
        "i can hear {s_ing} .",
        "{s_ing} in the background .",
        "you can hear {s_ing} .",
        "the sound of {s_ing} .",
        "i hear {s_ing} .",
        "{s_clause} in the background .",
    ],
    "caption": [
        "{he} is in the {room} .",
        "{he} 's in the {room} .",
        "the video takes place in the {room} .",
        "it looks like the {room} .",
        "in the {room} .",
        "{he} is in a {room} .",
    ],
    "history": [
        "it was {color} .",
        "the {obj} was {color} .",
        "it 's {color} .",
        "{color} .",
        "the {obj} is {color} .",
        "you said it was {color} .",
    ],
    "video+audio": [
        "{he} is {ing} while {s_clause} .",
        "{he} {third} while {s_clause} .",
        "{he} 's {ing} and {s_clause} .",
        "{he} is {ing} , and {s_clause} .",
        "{ing} while {s_clause} .",
        "{he} is {ing} as {s_clause} .",
    ],
    "video+caption": [
        "{he} is {ing} in the {room} .",
        "{he} {third} in the {room} .",
        "in the {room} , {he} is {ing} .",
        "{he} 's {ing} in the {room} .",
        "the {man} is {ing} in the {room} .",
        "{ing} in the {room} .",
    ],
    "fact": ["yes , the {obj} is {color} .", "yes , it is {color} .", "yes , it 's {color} ."],
}
_FILLERS = [
    ("is anyone else there ?", "no , {he} is alone ."),
    ("does {he} talk ?", "no , {he} does not talk ."),
    ("does {he} leave the room ?", "no , {he} stays there ."),
    ("is the video long ?", "no , it is short ."),
    ("does {he} look at the camera ?", "no , {he} does not ."),
    ("is the video in color ?", "yes , it is in color ."),
]
_CAPTIONS = [
    "a {man} is in the {room} .",
    "a {man} walks into the {room} .",
    "a {man} stays in the {room} .",
]
_SUMMARIES = [
    "a {man} in the {room} .",
    "the {room} , a {man} .",
    "{room} , one {man} .",
]


def _slots(scene: Scene, **extra: str) -> dict[str, str]:
    slots = {
        "he": scene.he,
        "man": scene.man,
        "ing": scene.action.ing,
        "third": scene.action.third,
        "room": scene.room,
    }
    if scene.sound is not None:
        slots["s_ing"] = scene.sound.ing
        slots["s_clause"] = scene.sound.clause
    slots.update(extra)
    return slots


def caption_and_summary(rng: np.random.Generator, scene: Scene) -> tuple[str, str]:
    """The video's caption and summary: both name the room (and the person), nothing else."""
    slots = _slots(scene)
    return pick(rng, _CAPTIONS).format(**slots), pick(rng, _SUMMARIES).format(**slots)


N_FILLERS = len(_FILLERS)


def turn_text(
    rng: np.random.Generator, kind: str, scene: Scene, obj: str = "", color: str = "", filler: int = 0
) -> TurnText:
    """A question of ``kind`` about ``scene``, its original answer and 6 references (the original first).

    ``obj``/``color``: the fact of a ``fact`` or ``history`` question; ``filler``: which filler question.
    """
    slots = _slots(scene, obj=obj, color=color)
    if kind == "filler":
        question, answer = _FILLERS[filler % N_FILLERS]
        answer = answer.format(**slots)
        return TurnText(kind, question.format(**slots), answer, (answer,) * N_REFS)
    question = pick(rng, _QUESTIONS[kind]).format(**slots)
    answers = [a.format(**slots) for a in _ANSWERS[kind]]
    if kind == "fact":
        return TurnText(kind, question, pick(rng, answers), ())
    order = sample(rng, answers, len(answers))
    original = pick(rng, answers[:3])  # the original answers use the most common phrasings
    refs = [original, *(a for a in order if a != original)][:N_REFS]
    return TurnText(kind, question, original, tuple(refs))
