"""Held-out classes of the ``data=mini_lp`` variant: real Kinetics-400 actions and AudioSet sounds that
appear in training *features* but are never asked about, so their answer phrases are in no training text.

Each class says how its answer phrase relates to its label (:class:`HeldOut`):

* ``surface``: the phrase shares a word with the label ("Thunder" -> "thunder rumbling");
* ``semantic``: it shares none ("Chicken, rooster" -> "a cockerel crowing"): only knowing what the
  name means links the two.

Half of each modality is of each relation. No word of a held-out label or phrase (articles aside) is a
word of any training text of ``data=mini_lp``; ``tests/data/test_mini_lp.py`` scans the generated files
for it, and checks that a frozen MiniLM-L6 ranks each held-out phrase first from its label alone.
"""

from __future__ import annotations

from dataclasses import dataclass

from benchmark.data.mini.vocab import Action, Sound

SURFACE, SEMANTIC = "surface", "semantic"
SEEN_TAG = "seen"


@dataclass(frozen=True)
class HeldOut:
    """How a held-out class's answer phrase relates to its label: ``surface`` or ``semantic``."""

    relation: str

    @property
    def tag(self) -> str:
        """The per-item tag of a question about this class (``heldout_surface`` / ``heldout_semantic``)."""
        return f"heldout_{self.relation}"


HELD_OUT_ACTIONS: tuple[tuple[Action, HeldOut], ...] = (
    (Action("juggling balls", "juggling balls", "juggles balls"), HeldOut(SURFACE)),
    (Action("knitting", "knitting a scarf", "knits a scarf"), HeldOut(SURFACE)),
    (Action("peeling apples", "peeling apples", "peels apples"), HeldOut(SURFACE)),
    (Action("shuffling cards", "shuffling cards", "shuffles cards"), HeldOut(SURFACE)),
    (Action("eating spaghetti", "having pasta", "has pasta"), HeldOut(SEMANTIC)),
    (Action("smoking", "puffing a cigarette", "puffs a cigarette"), HeldOut(SEMANTIC)),
    (Action("shoveling snow", "clearing the driveway", "clears the driveway"), HeldOut(SEMANTIC)),
    (Action("hugging", "embracing a friend", "embraces a friend"), HeldOut(SEMANTIC)),
)

# Real AudioSet display names and machine ids.
HELD_OUT_SOUNDS: tuple[tuple[Sound, HeldOut], ...] = (
    (Sound("Siren", "/m/03kmc9", "a siren wailing", "a siren wails"), HeldOut(SURFACE)),
    (Sound("Thunder", "/m/0ngt1", "thunder rumbling", "thunder rumbles"), HeldOut(SURFACE)),
    (Sound("Church bell", "/m/03w41f", "a church bell tolling", "a church bell tolls"), HeldOut(SURFACE)),
    (Sound("Piano", "/m/05r5c", "piano music", "piano music plays"), HeldOut(SURFACE)),
    (Sound("Rain", "/m/06mb1", "a downpour", "a downpour falls"), HeldOut(SEMANTIC)),
    (Sound("Train", "/m/07jdr", "a locomotive passing", "a locomotive passes"), HeldOut(SEMANTIC)),
    (Sound("Chicken, rooster", "/m/09b5t", "a cockerel crowing", "a cockerel crows"), HeldOut(SEMANTIC)),
    (Sound("Helicopter", "/m/09ct_", "a chopper overhead", "a chopper flies over"), HeldOut(SEMANTIC)),
)
