"""The paper-form overlays from raw frames (``configs/experiment/``): each is headed by the commands
that reproduce it (the backbone conversion, then the run), and ``python -m benchmark.run
experiment=<overlay> --cfg`` prints the composed config without any data present."""

from __future__ import annotations

import pytest

from benchmark.config.compose import config_dir
from benchmark.config.schema import FeatureStoreKind
from benchmark.run import main as run_main

FRAMES = config_dir() / "experiment"
OVERLAYS = sorted(p.stem for p in FRAMES.glob("*_frames.yaml"))
STORES = {"avsd_dstc7_vx2text_frames": "video_files", "tvqa_val_vx2text_frames": "frame_folder"}


def test_both_overlays_exist_and_are_headed_by_their_commands() -> None:
    assert sorted(STORES) == OVERLAYS
    for name in OVERLAYS:
        header = "".join(line for line in (FRAMES / f"{name}.yaml").read_text().splitlines(True)[:8] if line[0] == "#")
        assert f"python -m benchmark.run experiment={name} " in header, name
        assert "python -m benchmark.model.convert video_resnet " in header and "--arch r2plus1d_18" in header, name


@pytest.mark.parametrize("name", OVERLAYS)
def test_cfg_prints_without_data(name: str, capsys: pytest.CaptureFixture[str]) -> None:
    store = STORES[name]
    assert store in {k.value for k in FeatureStoreKind}
    assert run_main([f"experiment={name}", "--cfg", "job"]) == 0
    out = capsys.readouterr().out
    assert f"store: {store}" in out and "arch: r2plus1d_18" in out and "checkpointing: true" in out
    assert "weights: r2plus1d_18_kinetics400.safetensors" in out
