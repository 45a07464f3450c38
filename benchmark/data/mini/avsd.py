"""The mini AVSD: Charades-like videos, short dialogs, DSTC7/DSTC8-style test files and features.

Each video shows one action (I3D rgb + flow features only), one sound (VGGish features only; a few
videos have no VGGish file, like the real release) and happens in one room (caption and summary
only). Dialogs (1-6 turns, like the real test files' 1-10) mix questions about each of them, a "fact"
turn that states an object's colour in the question, a "history" question that asks that colour back
one or two turns later, and sometimes a filler turn. A slot (action,
sound, room) is asked about at most once per dialog, so the history never gives away a later answer.
Valid and test dialogs end at their evaluated turn (in the test files its answer is ``__UNDISCLOSED__``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from benchmark.data.mini.avsd_text import N_FILLERS, NEEDS, Scene, TurnText, caption_and_summary, turn_text
from benchmark.data.mini.common import (
    ITEM_MODALITIES,
    make_rng,
    pick,
    sample,
    scaled,
    task_geometries,
    write_classifiers,
)
from benchmark.data.mini.files import write_json, write_npy
from benchmark.data.mini.signals import Geometry, Segment, draw_segment, render
from benchmark.data.mini.vocab import ACTIONS, COLORS, OBJECTS, ROOMS, SOUNDS

N_TRAIN, N_VALID, N_TEST = 1000, 100, 150
DSTC8_NEW = 0.05  # share of DSTC8 test videos not in DSTC7 test (the real sets share 1,615 of 1,710)
P_FACT = 0.5  # share of dialogs that state a colour and ask it back
P_FILLER = 0.2  # share of dialogs with one filler turn
DROP_INFO = 0.3  # share of dialogs that skip one of their video's slots
RGB_DIM = FLOW_DIM = 32
MISSING_AUDIO = 0.05
VIDEO_NOISE, AUDIO_NOISE = 0.6, 0.45  # per-step noise; >= 22 (video) / 12 (audio) steps are pooled
EVAL_KINDS = {"video": 0.2, "audio": 0.2, "caption": 0.2, "history": 0.25, "video+audio": 0.075, "video+caption": 0.075}
UNDISCLOSED = "__UNDISCLOSED__"

FILES = {
    "train": "train_set4DSTC7-AVSD.json",
    "valid": "valid_set4DSTC7-AVSD.json",
    "test7": "test_set4DSTC7-AVSD.json",
    "test8": "test_set4DSTC8-AVSD.json",
    "refs7": "test_set4DSTC7-AVSD_multiref.json",
    "refs8": "test_set4DSTC8-AVSD_multiref.json",
}


@dataclass(frozen=True)
class AvsdVideo:
    image_id: str
    scene: Scene
    video: Segment  # the action, over the whole video
    audio: Segment | None  # the sound (None: no VGGish file)
    t_rgb: int
    t_flow: int
    t_audio: int
    test: bool  # features under *_testset/


@dataclass(frozen=True)
class AvsdDialogPlan:
    video: AvsdVideo
    caption: str
    summary: str
    turns: tuple[TurnText, ...]  # test: truncated, the last turn is the evaluated one

    @property
    def needs(self) -> list[str]:
        """Modalities the last turn's answer needs."""
        return NEEDS[self.turns[-1].kind]


@dataclass(frozen=True)
class AvsdPlan:
    video_geom: Geometry
    audio_geom: Geometry
    videos: tuple[AvsdVideo, ...]
    splits: dict[str, list[AvsdDialogPlan]]  # train, valid, test7, test8


def _video_ids(rng: np.random.Generator, n: int, taken: set[str]) -> list[str]:
    """``n`` new Charades-style ids (not in ``taken``, which they are added to)."""
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
    ids: list[str] = []
    while len(ids) < n:
        vid = "".join(alphabet[int(i)] for i in rng.integers(len(alphabet), size=5))
        if vid not in taken and not vid.isdigit():
            taken.add(vid)
            ids.append(vid)
    return ids


def _balanced(rng: np.random.Generator, n_classes: int, n: int) -> list[int]:
    """``n`` class indices, each class as often as possible (+-1), in random order."""
    reps = -(-n // n_classes)
    return [int(c) for c in rng.permutation(np.tile(np.arange(n_classes), reps)[:n])]


def _videos(rng: np.random.Generator, geoms: tuple[Geometry, Geometry], ids: list[str], test: bool) -> list[AvsdVideo]:
    video_geom, audio_geom = geoms
    out = []
    actions, sounds = _balanced(rng, len(ACTIONS), len(ids)), _balanced(rng, len(SOUNDS), len(ids))
    for image_id, action, sound in zip(ids, actions, sounds):
        has_audio = bool(rng.random() >= MISSING_AUDIO)
        scene = Scene(
            pick(rng, ("man", "woman")), ACTIONS[action], SOUNDS[sound] if has_audio else None, pick(rng, ROOMS)
        )
        t_rgb = int(rng.integers(24, 41))
        t_flow = t_rgb - int(rng.integers(0, 3))  # rgb and flow lengths differ, like the real I3D files
        t_audio = int(rng.integers(12, 25))
        video = draw_segment(rng, video_geom, 0.0, float(t_rgb), action)
        audio = draw_segment(rng, audio_geom, 0.0, float(t_audio), sound) if has_audio else None
        out.append(AvsdVideo(image_id, scene, video, audio, t_rgb, t_flow, t_audio, test))
    return out


def _dialog(rng: np.random.Generator, video: AvsdVideo, must: str | None) -> AvsdDialogPlan:
    """A short dialog (2-6 turns); with ``must``, truncated after a turn of that kind (the evaluated one).

    Every dialog asks about each of its video's slots (action, sound, room) at most once, so that the
    history never gives a later answer away; most dialogs state an object's colour in a question and
    ask it back one or two turns later (so the fact sits in the last two turns of the history).
    """
    scene = video.scene
    if scene.sound is not None:
        options = [["video", "audio", "caption"], ["video+audio", "caption"], ["video+caption", "audio"]]
    else:
        options = [["video", "caption"], ["video+caption"]]
    if must is not None and must != "history":
        options = [o for o in options if must in o]
    info = list(pick(rng, options))
    if len(info) > 1 and rng.random() < DROP_INFO:  # vary the length: skip one slot (never the evaluated one)
        info.remove(pick(rng, [k for k in info if k != must]))
    plan: list[str] = info + (["filler"] if rng.random() < P_FILLER else [])
    plan = [plan[int(i)] for i in rng.permutation(len(plan))]
    if must == "history" or rng.random() < P_FACT:
        f = int(rng.integers(len(plan) + 1))
        plan.insert(f, "fact")
        plan.insert(min(len(plan), f + 1 + int(rng.integers(0, 2))), "history")  # asked back 1-2 turns later
    if must is not None:
        at = pick(rng, [i for i, kind in enumerate(plan) if kind == must])
        plan = plan[: at + 1]
    obj, color = pick(rng, OBJECTS), pick(rng, COLORS)
    filler = int(rng.integers(N_FILLERS))
    turns = tuple(turn_text(rng, kind, scene, obj=obj, color=color, filler=filler) for kind in plan)
    caption, summary = caption_and_summary(rng, scene)
    return AvsdDialogPlan(video, caption, summary, turns)


def _eval_kind(rng: np.random.Generator, video: AvsdVideo) -> str:
    kinds = [k for k in EVAL_KINDS if video.audio is not None or "audio" not in k]
    weights = np.array([EVAL_KINDS[k] for k in kinds])
    return kinds[int(rng.choice(len(kinds), p=weights / weights.sum()))]


def plan_avsd(seed: int, scale: float) -> AvsdPlan:
    """Draw the whole mini AVSD (videos, dialogs, features' parameters) from ``seed``."""
    geoms = task_geometries(seed, "avsd", RGB_DIM + FLOW_DIM)
    rng = make_rng(seed, "avsd", "world")
    n_train, n_valid, n_test = scaled(N_TRAIN, scale), scaled(N_VALID, scale), scaled(N_TEST, scale)
    n_new8 = max(1, round(n_test * DSTC8_NEW))
    # Evaluated splits first, training last: a larger training set leaves the evaluated data unchanged.
    taken: set[str] = set()
    testset = _videos(rng, geoms, _video_ids(rng, n_test + n_new8, taken), test=True)
    validset = _videos(rng, geoms, _video_ids(rng, n_valid, taken), test=False)
    trainset = _videos(rng, geoms, _video_ids(rng, n_train, taken), test=False)
    text = make_rng(seed, "avsd", "text")
    splits = {
        "valid": [_dialog(text, v, _eval_kind(text, v)) for v in validset],
        "test7": [_dialog(text, v, _eval_kind(text, v)) for v in testset[:n_test]],
    }
    # DSTC8: mostly the same test videos (plus a few new ones), in another order, with new dialogs.
    keep = sample(text, testset[:n_test], n_test - n_new8) + testset[n_test:]
    order = [keep[int(i)] for i in text.permutation(len(keep))]
    for i in range(len(order)):  # never the same video at the same position: AVSD uids stay unique
        if i < n_test and order[i].image_id == testset[i].image_id:
            j = (i + 1) % len(order)
            order[i], order[j] = order[j], order[i]
    splits["test8"] = [_dialog(text, v, _eval_kind(text, v)) for v in order]
    splits["train"] = [_dialog(text, v, None) for v in trainset]
    return AvsdPlan(geoms[0], geoms[1], tuple(testset + validset + trainset), splits)


# --------------------------------------------------------------------------- writing
def _dstc7_filter(text: str) -> str:
    """DSTC7's stop-word filter as applied to reference #1: its unescaped ``^.$`` drops 1-char tokens."""
    return " ".join(tok for tok in text.split() if not re.fullmatch(r".", tok))


def _dstc8_filter(text: str) -> str:
    return " ".join(tok for tok in text.split() if tok not in (",", "."))


def _turns(d: AvsdDialogPlan, test: bool) -> list[dict[str, str]]:
    turns = [{"answer": t.answer, "question": t.question} for t in d.turns]
    if test:
        turns[-1]["answer"] = UNDISCLOSED
    return turns


def _dialog_file(dialogs: list[AvsdDialogPlan], test: bool) -> dict:
    if test:  # key order of the real test files
        rows = [{"image_id": d.video.image_id, "caption": d.caption, "dialog": _turns(d, True), "summary": d.summary}
                for d in dialogs]  # fmt: skip
        return {"type": "scene_aware_dialog", "version": "0.1", "dialogs": rows}
    rows = [{"image_id": d.video.image_id, "summary": d.summary, "dialog": _turns(d, False), "caption": d.caption}
            for d in dialogs]  # fmt: skip
    return {"dialogs": rows, "version": "0.1", "type": "scene_aware_dialog"}


def _multiref(dialogs: list[AvsdDialogPlan], dstc8: bool) -> dict:
    images, annotations = [], []
    for i, d in enumerate(dialogs, start=1):
        images.append({"name": f"{d.video.image_id}_{len(d.turns) - 1}", "id": i})
        for r, ref in enumerate(d.turns[-1].refs):
            caption = _dstc8_filter(ref) if dstc8 else (_dstc7_filter(ref) if r == 0 else ref)
            annotations.append({"image_id": i, "id": len(annotations) + 1, "caption": caption})
    return {"info": {}, "licenses": [], "images": images, "type": "captions", "annotations": annotations}


def uid(index: int, d: AvsdDialogPlan) -> str:
    """The harness's uid of a dialog's evaluated (last) turn: ``"<index>:<image_id>:<turn>"``."""
    return f"{index}:{d.video.image_id}:{len(d.turns) - 1}"


def _write_features(root: Path, seed: int, plan: AvsdPlan) -> None:
    rng = make_rng(seed, "avsd", "features")
    for v in plan.videos:
        suffix = "_testset" if v.test else ""
        rgb = render(rng, plan.video_geom, [v.video], v.t_rgb, 1.0, VIDEO_NOISE)[:, :RGB_DIM]
        flow = render(rng, plan.video_geom, [v.video], v.t_flow, 1.0, VIDEO_NOISE)[:, RGB_DIM:]
        write_npy(root / f"i3d_rgb{suffix}" / f"{v.image_id}.npy", rgb)
        write_npy(root / f"i3d_flow{suffix}" / f"{v.image_id}.npy", flow)
        if v.audio is not None:
            audio = render(rng, plan.audio_geom, [v.audio], v.t_audio, 1.0, AUDIO_NOISE)
            write_npy(root / f"vggish{suffix}" / f"{v.image_id}.npy", audio)


def write_avsd(root: Path, seed: int, scale: float) -> dict[str, int]:
    """Generate the mini AVSD under ``root``; return counts for the summary."""
    plan = plan_avsd(seed, scale)
    s = plan.splits
    write_json(root / FILES["train"], _dialog_file(s["train"], test=False), indent=2)
    write_json(root / FILES["valid"], _dialog_file(s["valid"], test=False), indent=2)
    write_json(root / FILES["test7"], _dialog_file(s["test7"], test=True), indent=2)
    write_json(root / FILES["test8"], _dialog_file(s["test8"], test=True), indent=2, py2_separators=True,
               final_newline=False)  # fmt: skip
    write_json(root / FILES["refs7"], _multiref(s["test7"], dstc8=False), indent=4)
    write_json(root / FILES["refs8"], _multiref(s["test8"], dstc8=True), indent=4, py2_separators=True,
               final_newline=False)  # fmt: skip
    needs: dict[str, list[str]] = {}
    for split in ("valid", "test7", "test8"):  # the dev items (last valid turns) and the test items
        for i, d in enumerate(s[split]):
            key = uid(i, d)
            if key in needs:
                raise RuntimeError(f"duplicate AVSD uid {key}")
            needs[key] = d.needs
    write_json(root / ITEM_MODALITIES, needs, indent=1)
    _write_features(root, seed, plan)
    write_classifiers(
        root, plan.video_geom, plan.audio_geom, "i3d_rgb + i3d_flow (the shorter zero-padded in time)", "vggish"
    )
    return {
        "train_dialogs": len(s["train"]),
        "valid_dialogs": len(s["valid"]),
        "test_dialogs_dstc7": len(s["test7"]),
        "test_dialogs_dstc8": len(s["test8"]),
        "videos": len(plan.videos),
        "videos_without_audio": sum(v.audio is None for v in plan.videos),
    }
