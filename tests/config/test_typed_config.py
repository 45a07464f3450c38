"""A run's config has one type: a run directory's config.yaml loads into the schema, as a composed config is."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from omegaconf import OmegaConf

from benchmark.config.compose import compose, semantic_config
from benchmark.config.load import typed_config
from benchmark.config.schema import (
    HeadKind,
    LauncherKind,
    RelaxedMode,
    RootConfig,
    SweepConfig,
    TaskKind,
    TokenizerConfig,
    TokenizerKind,
)
from benchmark.errors import ConfigError
from benchmark.results.rundir import run_key
from benchmark.results.store import ResultsStore


def _planned(tmp_path: Path, overrides: list[str]):
    cfg = compose([*overrides, f"results.root={tmp_path}"])
    run = ResultsStore.of(cfg).prepare_run_for(cfg)
    return cfg, run


def test_config_yaml_of_the_current_code_loads_as_the_composed_type(tmp_path: Path) -> None:
    cfg, run = _planned(tmp_path, ["task=tvqa", "tokenizer=discrete", "head=discriminative", "seed=2"])
    loaded = run.load_config()
    assert OmegaConf.get_type(loaded) is RootConfig is OmegaConf.get_type(cfg)
    assert loaded.task.kind is TaskKind.multiple_choice and loaded.head.kind is HeadKind.discriminative
    assert loaded.tokenizer.kind is TokenizerKind.discrete and loaded.launcher.kind is LauncherKind.local
    assert loaded.sweep is None
    assert run_key(semantic_config(loaded)) == run.key
    written = yaml.safe_load(run.config_file.read_text())
    assert OmegaConf.to_container(loaded, enum_to_str=True) == written  # nothing added, nothing lost


def test_a_sweep_run_config_loads_with_its_sweep_section_typed(tmp_path: Path) -> None:
    cfg, run = _planned(tmp_path, ["sweep=ci_small"])
    loaded = run.load_config()
    assert OmegaConf.get_type(loaded.sweep) is SweepConfig and loaded.sweep == cfg.sweep


def test_an_older_config_yaml_without_a_new_key_and_with_a_dropped_one_still_loads(tmp_path: Path) -> None:
    _, run = _planned(tmp_path, ["task=avsd"])
    old = yaml.safe_load(run.config_file.read_text())
    # written before these knobs existed (each has a default, and a key-stable legacy value) ...
    del old["model"]["freeze_body"]
    del old["tokenizer"]["k_per_modality"]
    del old["train"]["pad_to_multiple"]
    # ... and with keys that the schema has dropped since
    old["train"]["retired_knob"] = 3
    old["retired_section"] = {"a": 1}
    old["task"]["features"]["video"]["classifier"]["retired"] = "x"
    run.config_file.write_text(yaml.safe_dump(old))

    loaded = run.load_config()
    assert loaded.model.freeze_body is False and dict(loaded.tokenizer.k_per_modality) == {}
    assert loaded.train.pad_to_multiple == 0
    assert "retired_knob" not in loaded.train and "retired_section" not in loaded
    assert "retired" not in loaded.task.features.video.classifier
    assert loaded.tokenizer.kind is TokenizerKind.relaxed
    assert run_key(semantic_config(loaded)) == run.key  # the run is still the same run


def test_a_value_the_schema_refuses_names_the_file_and_the_key(tmp_path: Path) -> None:
    _, run = _planned(tmp_path, [])
    bad = yaml.safe_load(run.config_file.read_text())
    bad["tokenizer"]["kind"] = "fuzzy"
    run.config_file.write_text(yaml.safe_dump(bad))
    with pytest.raises(ConfigError, match=r"tokenizer\.kind.*config\.yaml.*fuzzy"):
        run.load_config()
    run.config_file.write_text("- a list\n")
    with pytest.raises(ConfigError, match="not a config mapping"):
        run.load_config()
    run.config_file.write_text("")  # empty: every key without a default is missing
    with pytest.raises(ConfigError, match=r"config\.yaml: no value for .*task\."):
        run.load_config()


def test_typed_config_of_a_planned_tree_equals_the_composition() -> None:
    cfg = compose(["task=tvc", "tokenizer=relaxed_anneal"])
    tree = OmegaConf.to_container(cfg, resolve=True, enum_to_str=True)
    typed = typed_config(tree)
    assert typed == cfg and typed.tokenizer.schedule.value == "exponential"


def test_tokenizer_defaults_live_in_the_schema() -> None:
    """configs/tokenizer/relaxed.yaml sets the kind only: every other knob is TokenizerConfig's default."""
    composed = compose(["tokenizer=relaxed"]).tokenizer
    assert OmegaConf.to_object(composed) == TokenizerConfig(kind=TokenizerKind.relaxed)
    assert composed.relaxed_mode is RelaxedMode.st_ranked
    assert [k for k in TokenizerKind if k.uses_classifier] == [TokenizerKind.discrete, TokenizerKind.relaxed]
