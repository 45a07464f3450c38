"""Composition and validation of every config in configs/, and the run identity built on it."""

from __future__ import annotations

from pathlib import Path

import pytest

from benchmark.config.compose import compose, config_dir, semantic_config
from benchmark.errors import ConfigError
from benchmark.results.rundir import run_alias, run_key
from benchmark.results.store import ResultsStore

GROUPS = (
    "task",
    "data",
    "model",
    "layout",
    "modality",
    "tokenizer",
    "head",
    "train",
    "launcher",
    "sweep",
    "experiment",
)


def _options(group: str) -> list[str]:
    return sorted(p.stem for p in (config_dir() / group).glob("*.yaml"))


@pytest.mark.parametrize("group", GROUPS)
def test_every_config_composes_and_validates(group: str) -> None:
    extra = {"data": ["paths.data_root=/data"], "experiment": ["paths.data_root=/data"]}
    for option in _options(group):
        overrides = [f"{group}={option}", *extra.get(group, [])]
        if group == "head" and option == "discriminative":
            overrides.append("task=tvqa")
        cfg = compose(overrides)
        assert cfg is not None, option


def test_every_experiment_overlay_is_headed_by_its_command() -> None:
    paths = sorted((config_dir() / "experiment").glob("*.yaml"))
    assert paths
    for path in paths:
        header = "".join(line for line in path.read_text().splitlines(keepends=True)[:6] if line.startswith("#"))
        assert f"python -m benchmark.run experiment={path.stem}" in header, f"{path.name}: no reproducing command"


@pytest.mark.parametrize(
    ("overrides", "key", "fragment"),
    [
        (["tokenizer.k=x"], "tokenizer.k", "could not be converted to Integer"),
        (["tokenizer.foo=1"], "tokenizer.foo", "no such key"),
        (["tokenizer=nope"], "tokenizer", "no option 'nope' in configs/tokenizer/"),
        (["tokenizer.kind=bad"], "tokenizer.kind", "expected one of [discrete, relaxed, continuous]"),
        (["tokenizer.k=0"], "tokenizer.k", "must be >= 1"),
        (["task=tvc", "head=discriminative"], "head.kind", "open-ended"),
        (["data=real"], "data.root", "needs a root folder"),
        (["train.device=tpu"], "train.device", "expected auto, cpu or cuda"),
        (["model.attn_implementation=flex_attention"], "model.attn_implementation", "broken for T5"),
        (["+extra=1"], "extra", "adding keys is not supported"),
    ],
)
def test_bad_config_names_the_key(overrides: list[str], key: str, fragment: str) -> None:
    with pytest.raises(ConfigError) as info:
        compose(overrides)
    assert info.value.key == key
    assert fragment in str(info.value)
    assert str(info.value).startswith(f"config key '{key}'")


def test_run_key_ignores_non_semantic_keys_and_follows_semantic_ones() -> None:
    base = run_key(semantic_config(compose([])))
    for same in (
        ["train.device=cpu"],
        ["results.root=/elsewhere"],
        ["launcher=slurm"],
        ["train.num_workers=3"],
        ["paths.cache=/tmp/x"],
        ["modality.speech=false"],
    ):  # AVSD offers no speech
        assert run_key(semantic_config(compose(same))) == base, same
    for different in (
        ["seed=1"],
        ["tokenizer.k=5"],
        ["modality.video=false"],
        ["train.lr=0.01"],
        ["task=avsd_dstc8"],
        ["data.version=other"],
        ["head.num_beams=4"],
    ):
        assert run_key(semantic_config(compose(different))) != base, different


def test_tokenizer_knobs_that_do_not_apply_do_not_split_runs() -> None:
    a = compose(["tokenizer=discrete", "tokenizer.tau_end=0.5"])
    b = compose(["tokenizer=discrete"])
    assert run_key(semantic_config(a)) == run_key(semantic_config(b))
    c = compose(["tokenizer=relaxed", "tokenizer.tau_end=0.5"])
    assert run_key(semantic_config(c)) != run_key(semantic_config(compose(["tokenizer=relaxed"])))


def test_alias_and_run_dir_are_readable() -> None:
    cfg = compose(["task=tvqa", "modality=no_speech", "seed=2", "results.root=/r"])
    assert run_alias(cfg) == "t5_tiny-no_speech-relaxed-k3-gen-s2"
    path = ResultsStore.of(cfg).run_for(cfg).path
    assert path.parent == Path("/r/tvqa")
    assert path.name.startswith("t5_tiny-no_speech-relaxed-k3-gen-s2__") and len(path.name.rsplit("__")[1]) == 12
