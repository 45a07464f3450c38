"""Shared builders for the model tests (imported by the other tests/test_model_*.py) and the tiny-backbone tests.

Everything is real: configs composed from configs/, tiny backbones trained / saved / loaded through
benchmark.model.tiny and from_pretrained, samples built as benchmark.data.types.Sample.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest
import torch

from benchmark.config.compose import compose
from benchmark.data.types import Sample
from benchmark.errors import ConfigError
from benchmark.fingerprint import tiny_builder_fingerprint
from benchmark.model import ModelTask, Vx2Text, build_model, ensure_tiny_backbone
from benchmark.model.backbones import load_backbone, resolve_name_or_path

SHARED = Path(os.environ.get("VX2T_SHARED", Path(__file__).resolve().parents[2] / "shared"))

# A small shape that still exercises every part (2 heads, 1 layer per stack).
TINY = {"d_model": 32, "layers": 1, "heads": 2, "d_ff": 64, "vocab_size": 400}
# The layout the assembly tests spell out (the schema's defaults), whatever the tiny configs calibrate.
ASSEMBLY = ["model.assembly.separator_style=text", "model.assembly.order=[video,audio,speech,caption,history,question]"]
LABELS = {
    "video": ["playing guitar", "cooking dinner", "running", "washing dishes", "reading a book", "dancing"],
    "audio": ["speech", "music", "dog barking", "silence", "laughter"],
}
DIMS = {"video": 12, "audio": 6}
CORPUS = [
    "a man is playing the guitar in the living room",
    "what is the woman doing ? she is cooking dinner in the kitchen",
    "is there any music ? yes , a dog is barking too",
    "the boy runs out of the room and closes the door",
    "does he read a book ? no , he washes the dishes",
    "how many people are there ? two people are dancing",
]
KIND = {"avsd": "dialog", "tvqa": "multiple_choice", "tvc": "caption"}


def cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One model cache per test session (tiny backbones are built once and reused, as in real runs)."""
    path = tmp_path_factory.getbasetemp() / "vx2t-model-cache"
    path.mkdir(exist_ok=True)
    return path


def make_cfg(task: str = "avsd", family: str = "t5", overrides: list[str] = (), tiny: dict | None = None):
    """A validated run config with a tiny backbone of ``family``."""
    shape = {**TINY, **(tiny or {})}
    ov = [f"task={task}", f"model={family}_tiny", *(f"model.tiny.{k}={v}" for k, v in shape.items())]
    ov += ["train.max_steps=100", *ASSEMBLY, *overrides]
    return compose(ov)


def make_info(cfg, modalities: list[str] | None = None, weights: dict | None = None) -> ModelTask:
    """ModelTask as the training loop builds it (effective modalities by default)."""
    from benchmark.config.compose import effective_modalities

    mods = effective_modalities(cfg) if modalities is None else modalities
    cont = [m for m in cfg.task.modalities if m in LABELS]
    return ModelTask(
        name=str(cfg.task.name),
        kind=cfg.task.kind,  # a TaskKind member, as the job builds it
        specifier=str(cfg.task.specifier),
        modalities=list(mods),
        label_names={m: LABELS[m] for m in cont},
        feature_dims={m: DIMS[m] for m in cont},
        classifier_weights={m: (weights or {}).get(m) for m in cont},
        classifier_cfg={m: cfg.task.features[m].classifier for m in cont},
    )


def train_steps(model, batch, steps: int, lr: float) -> list[float]:
    """``steps`` AdamW steps on one batch, as the trainer takes them (set_step first); the losses."""
    model.train()
    opt = torch.optim.AdamW(model.parameters(), lr=lr)
    losses = []
    for step in range(steps):
        model.set_step(step)
        loss = model(batch)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(float(loss.detach()))
    return losses


def build(cfg, info: ModelTask, cache: Path, seed: int = 0) -> Vx2Text:
    """build_model with a fixed seed and the shared test corpus."""
    torch.manual_seed(seed)
    return build_model(cfg, info, cache, lambda: list(CORPUS))


def make_samples(task: str, n: int, seed: int = 0, t: int = 5) -> list[Sample]:
    """Hand-built samples in the shape each task's data layer produces (text fields, (T, D) features)."""
    rng = np.random.default_rng(seed)
    out = []
    for i in range(n):
        feats = {m: rng.standard_normal((t + i % 3, DIMS[m]), dtype=np.float32) for m in DIMS}
        line = CORPUS[i % len(CORPUS)]
        if task == "avsd":
            s = Sample(
                uid=f"{i}:vid{i}:9",
                text={"caption": line, "history": " ".join(CORPUS[: 1 + i % 3]), "question": "what is he doing ?"},
                features=feats,
                target=CORPUS[(i + 1) % len(CORPUS)],
            )
        elif task == "tvqa":
            cands = [CORPUS[(i + j) % len(CORPUS)].split(" ? ")[-1] for j in range(5)]
            s = Sample(
                uid=str(1000 + i),
                text={"speech": line, "question": "what happens ?"},
                features=feats,
                candidates=cands,
                label=int(i % 5),
            )
        else:
            s = Sample(uid=str(2000 + i), text={"speech": line}, features=feats, target=CORPUS[(i + 2) % len(CORPUS)])
        out.append(s)
    return out


# --------------------------------------------------------------------------- tiny backbone tests
@pytest.fixture(scope="module")
def cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return cache_dir(tmp_path_factory)


@pytest.mark.parametrize(
    ("family", "text_ids"),
    [("t5", ["hello", "</s>"]), ("bart", ["<s>", "hello", "</s>"]), ("bert", ["[CLS]", "hello", "[SEP]"])],
)
def test_tiny_backbone_has_family_conventions_and_reloads(cache: Path, family: str, text_ids: list[str]) -> None:
    cfg = make_cfg(family=family)
    path = ensure_tiny_backbone(cfg.model, lambda: ["hello world", *CORPUS], cache)
    assert path.parent == cache / "models" and path.name.startswith(f"{family}-")
    spec = json.loads((path / "tiny_spec.json").read_text())
    assert spec["d_model"] == TINY["d_model"] and spec["family"] == family
    assert spec["builder"] == tiny_builder_fingerprint()  # the builder's source is part of the key
    backbone, tok = load_backbone(family, str(path), attn_implementation="eager", encoder_only=False)
    assert tok.convert_ids_to_tokens(tok("Hello")["input_ids"]) == text_ids  # lower-casing normaliser
    assert backbone.d_model == TINY["d_model"]
    # punctuation and any printable character survive: nothing printable becomes unk
    ids = tok("Hi, it's 42% (ok)!", add_special_tokens=False)["input_ids"]
    assert tok.unk_token_id not in ids
    if family == "bert":
        assert type(backbone.model).__name__ == "EncoderDecoderModel"
        assert backbone.model.decoder.config.is_decoder and backbone.model.decoder.config.add_cross_attention


def test_tiny_backbone_is_cached_keyed_by_corpus_and_leaves_rng_alone(cache: Path) -> None:
    cfg = make_cfg(family="t5")
    torch.manual_seed(123)
    state = torch.get_rng_state()
    first = ensure_tiny_backbone(cfg.model, ["alpha beta", *CORPUS], cache)
    assert torch.equal(torch.get_rng_state(), state), "building must not consume the caller's RNG"
    mtime = (first / "config.json").stat().st_mtime_ns
    again = ensure_tiny_backbone(cfg.model, ["alpha beta", *CORPUS], cache)
    assert again == first and (first / "config.json").stat().st_mtime_ns == mtime
    other = ensure_tiny_backbone(cfg.model, ["gamma delta", *CORPUS], cache)
    assert other != first
    assert not [p for p in (cache / "models").iterdir() if p.name.startswith(".") and p.is_dir()], "temp dirs left"
    # the same init seed: both folders hold identical weights of identical shape
    a, _ = load_backbone("t5", str(first), attn_implementation="eager", encoder_only=False)
    b, _ = load_backbone("t5", str(other), attn_implementation="eager", encoder_only=False)
    assert torch.equal(a.model.encoder.block[0].layer[1].DenseReluDense.wi.weight,
                       b.model.encoder.block[0].layer[1].DenseReluDense.wi.weight)  # fmt: skip


def test_tiny_model_rebuilt_and_reloaded_from_disk_gives_identical_outputs(cache: Path, tmp_path: Path) -> None:
    cfg = make_cfg("avsd", "t5")
    info = make_info(cfg)
    # a: loaded from the shared cache; b: built from scratch in an empty cache, saved, loaded back
    a, b = build(cfg, info, cache, seed=3), build(cfg, info, tmp_path, seed=3)
    a.eval(), b.eval()
    batch = a.collate(make_samples("avsd", 3), train=True)
    assert torch.equal(a(batch), b(batch))
    assert a.predict(batch) == b.predict(batch)


def test_backbone_paths_and_family_mismatches_are_config_errors(cache: Path) -> None:
    with pytest.raises(ConfigError, match=r"model\.name_or_path.*'no_such_pkg_vx2t' is not installed"):
        resolve_name_or_path("pkg://no_such_pkg_vx2t/model")
    assert resolve_name_or_path("google-t5/t5-small") == "google-t5/t5-small"
    path = ensure_tiny_backbone(make_cfg(family="t5").model, CORPUS, cache)
    with pytest.raises(ConfigError, match=r"model\.family.*is a 't5' checkpoint, but model\.family is 'bart'"):
        load_backbone("bart", str(path), attn_implementation="eager", encoder_only=False)
