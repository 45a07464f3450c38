"""The closed vocabulary of the mini benchmark's world: actions, sounds, rooms, facts, shows, phrasing.

Everything a generated file says comes from the tables below, so the world is small enough for a tiny
T5 to learn in a minute and every answer is determined by exactly the modality that carries it.
Action names are real Kinetics-400 class names, sound names are real AudioSet display names (with
their real ``mid``), so the label files look like the real vocabularies.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Action:
    """A Kinetics-style action class: the label, and how text says it."""

    label: str  # the class name in video_labels.txt (a real Kinetics-400 name)
    ing: str  # "playing guitar" (after "he is")
    third: str  # "plays guitar" (after a name)


@dataclass(frozen=True)
class Sound:
    """An AudioSet-style sound class: the display name, its mid, and how text says it."""

    label: str  # the display_name in audio_labels.csv (a real AudioSet name)
    mid: str  # its real AudioSet machine id
    ing: str  # "a dog barking" (after "i can hear")
    clause: str  # "a dog barks" (after "while")


ACTIONS: tuple[Action, ...] = (
    Action("brushing hair", "brushing hair", "brushes hair"),
    Action("brushing teeth", "brushing teeth", "brushes teeth"),
    Action("folding clothes", "folding clothes", "folds clothes"),
    Action("folding napkins", "folding napkins", "folds napkins"),
    Action("ironing", "ironing a shirt", "irons a shirt"),
    Action("making tea", "making tea", "makes tea"),
    Action("mopping floor", "mopping the floor", "mops the floor"),
    Action("playing chess", "playing chess", "plays chess"),
    Action("playing guitar", "playing guitar", "plays guitar"),
    Action("playing ukulele", "playing ukulele", "plays ukulele"),
    Action("reading book", "reading a book", "reads a book"),
    Action("reading newspaper", "reading a newspaper", "reads a newspaper"),
    Action("sweeping floor", "sweeping the floor", "sweeps the floor"),
    Action("texting", "texting", "texts"),
    Action("washing dishes", "washing dishes", "washes dishes"),
    Action("washing hands", "washing hands", "washes hands"),
)

# Pairs the shipped "pretrained" video head cannot tell apart (see classifiers.py).
ACTION_PAIRS: tuple[tuple[str, str], ...] = (
    ("playing guitar", "playing ukulele"),
    ("washing dishes", "washing hands"),
    ("folding clothes", "folding napkins"),
    ("brushing teeth", "brushing hair"),
    ("reading book", "reading newspaper"),
    ("mopping floor", "sweeping floor"),
)

# In AudioSet index order, like class_labels_indices.csv.
SOUNDS: tuple[Sound, ...] = (
    Sound("Laughter", "/m/01j3sz", "people laughing", "people laugh"),
    Sound("Baby cry, infant cry", "/t/dd00002", "a baby crying", "a baby cries"),
    Sound("Applause", "/m/028ght", "people clapping", "people clap"),
    Sound("Dog", "/m/0bt9lr", "a dog barking", "a dog barks"),
    Sound("Cat", "/m/01yrx", "a cat meowing", "a cat meows"),
    Sound("Doorbell", "/m/03wwcy", "a doorbell ringing", "the doorbell rings"),
    Sound("Knock", "/m/07r4wb8", "someone knocking", "someone knocks"),
    Sound("Water tap, faucet", "/m/02jz0l", "water running", "water runs"),
    Sound("Hair dryer", "/m/03wvsk", "a hair dryer", "a hair dryer runs"),
    Sound("Vacuum cleaner", "/m/0d31p", "a vacuum cleaner", "a vacuum cleaner runs"),
    Sound("Telephone bell ringing", "/m/07pp8cl", "a phone ringing", "a phone rings"),
    Sound("Alarm clock", "/m/046dlr", "an alarm clock", "an alarm clock rings"),
)

SOUND_PAIRS: tuple[tuple[str, str], ...] = (
    ("Dog", "Cat"),
    ("Doorbell", "Telephone bell ringing"),
    ("Vacuum cleaner", "Hair dryer"),
    ("Laughter", "Baby cry, infant cry"),
    ("Applause", "Knock"),
)

# --------------------------------------------------------------------------- AVSD (caption / history)
ROOMS: tuple[str, ...] = (
    "kitchen",
    "living room",
    "bedroom",
    "bathroom",
    "garage",
    "dining room",
    "hallway",
    "office",
    "laundry room",
    "basement",
)
OBJECTS: tuple[str, ...] = ("cup", "towel", "blanket", "pillow", "bag", "box", "chair", "shirt")
COLORS: tuple[str, ...] = ("red", "blue", "green", "yellow", "white", "black", "brown", "orange")

# --------------------------------------------------------------------------- TV shows (TVQA / TVC)


@dataclass(frozen=True)
class Show:
    name: str  # show_name verbatim as in TVQA (incl. the "How I Met You Mother" typo)
    prefix: str  # vid_name prefix; "" for The Big Bang Theory (no prefix in the real files)
    cast: tuple[str, ...]


SHOWS: tuple[Show, ...] = (
    Show("The Big Bang Theory", "", ("Sheldon", "Leonard", "Penny", "Howard", "Raj", "Amy", "Bernadette")),
    Show("Friends", "friends", ("Rachel", "Ross", "Monica", "Chandler", "Joey", "Phoebe")),
    Show("How I Met You Mother", "met", ("Ted", "Marshall", "Lily", "Robin", "Barney")),
    Show("Grey's Anatomy", "grey", ("Meredith", "Derek", "Cristina", "Izzie", "George", "Alex")),
    Show("House M.D.", "house", ("House", "Wilson", "Cuddy", "Foreman", "Chase", "Cameron")),
    Show("Castle", "castle", ("Castle", "Beckett", "Esposito", "Ryan", "Lanie", "Martha")),
)

# Spoken facts (TVQA speech questions): "I left the keys in the kitchen."
TV_OBJECTS: tuple[str, ...] = ("passport", "wallet", "phone", "ticket", "laptop", "umbrella", "ring", "remote")
TV_PLACES: tuple[str, ...] = ("kitchen", "car", "office", "bedroom", "hallway", "bathroom", "garage", "lobby")
FACT_LINES: tuple[str, ...] = (
    "I left the {obj} in the {place}.",
    "The {obj} is in the {place}.",
    "I put the {obj} in the {place}.",
    "Your {obj} is in the {place}.",
)

# Subtitle lines that carry nothing the questions or captions ask about.
FILLER_LINES: tuple[str, ...] = (
    "Are you serious?",
    "I can't believe this.",
    "We need to talk.",
    "Come on, let's go.",
    "That's not what I meant.",
    "Okay, fine.",
    "What are you doing here?",
    "I'll be right back.",
    "You have got to be kidding me.",
    "Thank you so much.",
    "Wait, what?",
    "Is that a yes?",
    "I don't think so.",
    "This is ridiculous.",
    "Can we talk about this later?",
    "Oh, come on!",
    "Nobody cares.",
    "Hey, how are you?",
)
