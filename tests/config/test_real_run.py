"""The real-data path as a researcher meets it (issue 9): overlay and README commands as printed, --cfg
without a data root, reruns with corrected paths, other data refused, unlabelled leaderboard splits,
modalities a release does not ship, and paper-row runs beside the paper's numbers.

Runs use a data root in the released layout built from ``../shared/data/real/`` (tests/real_layout.py)
and tiny models trained for two steps, in process (``launcher`` local single runs)."""

from __future__ import annotations

import json
import shlex
import shutil
from pathlib import Path

import pytest
from doc_commands import arguments, inline_commands, module_commands
from locations import fact
from real_layout import build_tvqa

from benchmark.config.compose import config_dir
from benchmark.config.schema import TokenizerConfig
from benchmark.run import main

TINY = ["model=t5_tiny", "train=tiny", "train.max_steps=2", "train.progress=false", "train.threads=1"]
if hasattr(TokenizerConfig, "allow_random_classifiers"):  # no converted heads ship with the test root
    TINY.append("tokenizer.allow_random_classifiers=true")


def overlay_commands() -> dict[str, list[str]]:
    """Each experiment overlay's header command (``# Reproduce:`` line), as arguments after ``benchmark.run``."""
    out = {}
    for path in sorted((config_dir() / "experiment").glob("*.yaml")):
        header = [ln.lstrip("# ").strip() for ln in path.read_text().splitlines() if ln.startswith("#")]
        (cmd,) = [ln for ln in header if ln.startswith("python -m benchmark.run")]
        out[path.stem] = shlex.split(cmd)[3:]
    return out


def readme_commands(pages: list[Path] | None = None) -> list[list[str]]:
    """Every ``python -m benchmark.run`` command of the README and the docs pages (``pages``: only those):
    fenced ``bash`` blocks (continuations joined) and inline code spans; placeholders such as ``<study>``
    are skipped (a ``bash`` block holds none: tests/docs/test_doc_commands.py)."""
    lines = [*module_commands("benchmark.run", pages), *inline_commands("python -m benchmark.run", pages)]
    cmds = []
    for line in dict.fromkeys(lines):
        if "<" not in line:
            cmds.append(arguments(line, "benchmark.run"))
    return cmds


def _run(capsys: pytest.CaptureFixture[str], args: list[str]) -> tuple[int, str]:
    try:
        code = main(args)
    except SystemExit as exc:
        code = int(exc.code or 0)
    out = capsys.readouterr()
    return code, out.out + out.err


@pytest.fixture
def shared_composer(monkeypatch: pytest.MonkeyPatch) -> None:
    """Sweeps of one test share one (real) Composer, so repeated config groups are composed once."""
    import benchmark.sweep.sweep
    from benchmark.config.compose import Composer

    composer = Composer()
    monkeypatch.setattr(benchmark.sweep.sweep, "Composer", lambda: composer)


@pytest.fixture(scope="module")
def tvqa_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A data root holding ``tvqa/`` in the released layout (no audio store: TVQA releases none)."""
    root = tmp_path_factory.mktemp("real")
    build_tvqa(root)
    return root


@pytest.mark.usefixtures("shared_composer")
def test_every_overlay_header_command_dry_runs_as_printed(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    commands = overlay_commands()
    assert {"avsd_dstc7_vx2text", "tvqa_val_vx2text", "tvc_val_vx2text"} <= set(commands)
    for name, args in commands.items():
        code, out = _run(capsys, [*args, f"results.root={tmp_path}", "sweep.dry_run=true"])
        assert code == 0, f"{name}: {out}"
        assert "1 runs planned" in out and "dry run: nothing submitted" in out, out
        if "launcher=slurm" in args:  # a single Slurm run is a one-run study, not an error
            assert "[launcher=slurm]" in out
    assert not any(tmp_path.iterdir())  # a dry run writes nothing


@pytest.mark.slow  # about 15-60 s: the documented studies are planned in full (real data: also test_plan_check)
@pytest.mark.usefixtures("shared_composer")
def test_every_readme_command_parses_and_dry_runs(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    commands = readme_commands()
    assert any("experiment=avsd_dstc7_vx2text" in c for c in commands) and len(commands) >= 8
    for args in commands:
        extra = [] if "--cfg" in args else ["sweep.dry_run=true"]
        code, out = _run(capsys, [*args, f"results.root={tmp_path / 'runs'}", *extra])
        assert code == 0, f"{shlex.join(args)}: {out[-2000:]}"


def test_cfg_prints_any_overlay_without_a_data_root(capsys: pytest.CaptureFixture[str]) -> None:
    for name in overlay_commands():
        code, out = _run(capsys, ["--cfg", f"experiment={name}"])
        assert code == 0, f"{name}: {out}"
        assert "provenance:" in out
        if name != "mini_vx2text":
            assert "# data.root: ??? (set paths.data_root=DIR" in out


def test_plain_tvqa_on_real_data_names_modality_audio(capsys: pytest.CaptureFixture[str], tvqa_root: Path) -> None:
    code, out = _run(capsys, ["task=tvqa", "data=real", f"paths.data_root={tvqa_root}", *TINY])
    assert code == 2
    assert "TVQA releases no audio features; set modality.audio=false" in out and "Traceback" not in out


def _single_run_dir(results: Path) -> Path:
    (run,) = [p for p in (results / "tvqa").iterdir() if p.is_dir()]
    return run


def test_rerun_uses_the_corrected_data_root_and_records_each_attempt(
    capsys: pytest.CaptureFixture[str], tvqa_root: Path, tmp_path: Path
) -> None:
    results = tmp_path / "runs"
    base = ["experiment=tvqa_val_vx2text", f"results.root={results}", *TINY]
    code, out = _run(capsys, [*base, f"paths.data_root={tmp_path / 'wrong'}"])
    assert code == 1 and "FAILED" in out
    code, out = _run(capsys, [*base, f"paths.data_root={tvqa_root}"])
    assert code == 0, out
    run = _single_run_dir(results)
    status = json.loads((run / "status.json").read_text())
    roots = [a["data_root"] for a in status["attempt_settings"]]
    assert roots == [str(tmp_path / "wrong" / "tvqa"), str(tvqa_root / "tvqa")]
    assert f"root: {tvqa_root / 'tvqa'}" in (run / "config.yaml").read_text()
    assert json.loads((run / "data.json").read_text())["root"] == str(tvqa_root / "tvqa")

    # the same data copied elsewhere is the same data: already done
    copy = tmp_path / "copy"
    shutil.copytree(tvqa_root, copy)
    code, out = _run(capsys, [*base, f"paths.data_root={copy}"])
    assert code == 0 and "already done" in out
    # other data under the same run key is refused, never "already done" with the old result
    val = copy / "tvqa" / "tvqa_val.jsonl"
    val.write_text("".join(val.read_text().splitlines(keepends=True)[:-1]))
    code, out = _run(capsys, [*base, f"paths.data_root={copy}"])
    assert code != 0 and "already done" not in out
    assert "computed on other data" in out and "task.files.eval (tvqa_val.jsonl)" in out


def test_a_semantic_change_of_a_run_directory_is_refused(tmp_path: Path) -> None:
    from benchmark.config.compose import compose, semantic_config
    from benchmark.results.rerun import SemanticChange
    from benchmark.results.store import ResultsStore

    cfg = compose([f"results.root={tmp_path}"])
    store = ResultsStore.of(cfg)
    run = store.prepare_run_for(cfg)
    key = json.loads(run.key_file.read_text())
    key["semantic"]["train"]["lr"] = 1.0  # what a run key hashes cannot be changed by a rerun
    run.key_file.write_text(json.dumps(key))
    with pytest.raises(SemanticChange, match=r"differs in train\.lr"):
        store.prepare_run_for(cfg)
    assert semantic_config(cfg)["train"]["lr"] != 1.0


def test_test_public_ends_done_unscored_and_tables_say_so(
    capsys: pytest.CaptureFixture[str], tvqa_root: Path, tmp_path: Path
) -> None:
    from benchmark.report.comparisons import COMPARISONS, comparison_table
    from benchmark.report.reference import load_reference
    from benchmark.report.render import to_markdown
    from benchmark.results.collect import collect

    results = tmp_path / "runs"
    args = ["experiment=tvqa_val_vx2text", "task=tvqa_test_public", f"paths.data_root={tvqa_root}"]
    code, out = _run(capsys, [*args, f"results.root={results}", *TINY])
    n = fact(200, 53)  # test_public questions: the shared sample's, or the excerpt's
    assert code == 0 and f"not scored: labels hidden; {n} predictions" in out, out
    run = _single_run_dir(results)
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["scored"] is False and metrics["not_scored"] == "labels hidden" and metrics["n_predictions"] == n
    submission = json.loads((run / metrics["submission"]).read_text())
    qids = [json.loads(ln)["qid"] for ln in (tvqa_root / "tvqa" / "tvqa_test_public.jsonl").read_text().splitlines()]
    assert sorted(int(q) for q in submission) == sorted(qids) and set(submission.values()) <= set(range(5))
    code, out = _run(capsys, [*args, f"results.root={results}", *TINY])  # an unscored run stays done
    assert code == 0 and "already done" in out, out
    collection = collect(results, write=False)
    row = collection.index.iloc[0]
    assert row["state"] == "DONE" and not row["scored"] and row["not_scored"] == "labels hidden"
    table = to_markdown(comparison_table(collection, load_reference(), COMPARISONS[1]))
    assert f"not scored: labels hidden ({n} predictions in predictions/eval.json)" in table
    assert "FAILED" not in table and "| 0.00" not in table


def test_a_paper_row_overlay_run_stands_beside_the_paper(
    capsys: pytest.CaptureFixture[str], tvqa_root: Path, tmp_path: Path
) -> None:
    from benchmark.report.comparisons import COMPARISONS, comparison_table
    from benchmark.report.reference import load_reference
    from benchmark.report.render import to_markdown
    from benchmark.results.collect import collect

    results = tmp_path / "runs"
    code, out = _run(
        capsys, ["experiment=tvqa_val_vx2text", f"paths.data_root={tvqa_root}", f"results.root={results}", *TINY]
    )
    assert code == 0, out
    planned = json.loads((_single_run_dir(results) / "planned.json").read_text())["plans"]
    assert planned[-1]["experiment"] == "tvqa_val_vx2text" and planned[-1]["comparison"] == "main_tvqa"
    collection = collect(results, write=False)
    assert collection.index.iloc[0]["cfg.tokenizer.schedule"] != "constant"  # the overlay anneals
    table = to_markdown(comparison_table(collection, load_reference(), COMPARISONS[1]))
    assert "| Ours (tvqa_val_vx2text): t5_tiny, real data |" in table
    assert "74.90† (Δ" in table  # the paper's TVQA val number, differenced against the overlay run
