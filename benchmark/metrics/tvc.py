"""TVC scoring with the official protocol of TVCaption ``standalone_eval/evaluate.py``.

* references: ``{clip_id: [remove_nonascii(desc) for every desc]}`` from the TVC annotation jsonl
  (val has about 4 descs per clip; all are references);
* predictions: the official submission jsonl, one ``{"vid_name", "clip_id", "ts", "descs": [{"desc"}]}``
  per clip; only ``descs[0]`` is scored, after ``remove_nonascii`` (every non-ASCII character becomes
  one space, as ``''.join(c if ord(c) < 128 else ' ' for c in text)`` does);
* PTB tokenizer, BLEU-1..4 (closest reference length), METEOR, ROUGE-L, CIDEr(-D), each x100.

Every reference clip needs exactly one prediction: a missing, extra or duplicate ``clip_id`` is a
:class:`SubmissionError` naming it (the official script would crash on an assertion, or silently keep
the last duplicate).

CLI: ``python -m benchmark.metrics.tvc --refs REFS.jsonl SUBMISSION.jsonl [--json]``.
"""

from __future__ import annotations

from pathlib import Path

from benchmark.entry import prog
from benchmark.errors import DataFormatError, cli_errors, describe
from benchmark.metrics import cli
from benchmark.metrics.bootstrap import bootstrap_ci, describe_ci
from benchmark.metrics.coco import CAPTION_METRICS, check_java, score_captions
from benchmark.metrics.inputs import file_key, is_int, iter_jsonl, submission_error
from benchmark.metrics.result import ScoreResult

SCALE = 100.0


def remove_nonascii(text: str) -> str:
    """Replace every non-ASCII character by a space (TVCaption's ``remove_nonascii``)."""
    return "".join(c if ord(c) < 128 else " " for c in text)


def read_tvc_references(path: str | Path) -> dict[int, list[str]]:
    """``{clip_id: [desc, ...]}`` (raw text, file order) from a TVC annotation jsonl with descs."""
    refs: dict[int, list[str]] = {}
    for lineno, rec in iter_jsonl(path, submission=False):
        where = f"line {lineno}"
        if not isinstance(rec, dict) or not is_int(rec.get("clip_id")):
            raise DataFormatError(path, where, "an object with an integer 'clip_id'", describe(rec))
        where += f" (clip_id {rec['clip_id']})"
        if "descs" not in rec:
            raise DataFormatError(
                path, where, "reference captions in 'descs' (test_public captions are hidden: score on val)", "none"
            )
        descs = rec["descs"]
        if not isinstance(descs, list) or not descs:
            raise DataFormatError(path, where, "a non-empty 'descs' list", describe(descs))
        for j, desc in enumerate(descs):
            if not isinstance(desc, dict) or not isinstance(desc.get("desc"), str):
                raise DataFormatError(path, f"{where} descs[{j}]", "an object with a string 'desc'", describe(desc))
        if rec["clip_id"] in refs:
            raise DataFormatError(path, where, "each clip_id once", "a duplicate")
        refs[rec["clip_id"]] = [d["desc"] for d in descs]
    if not refs:
        raise DataFormatError(path, "", "at least one reference clip", "an empty file")
    return refs


def read_tvc_predictions(path: str | Path) -> tuple[dict[int, str], int]:
    """``({clip_id: descs[0].desc}, number of predictions with several descs)`` of a submission jsonl."""
    preds: dict[int, str] = {}
    first_line: dict[int, int] = {}
    several = 0
    for lineno, rec in iter_jsonl(path, submission=True):
        where = f"line {lineno}"
        if not isinstance(rec, dict) or not is_int(rec.get("clip_id")):
            raise submission_error(path, where, "an object with an integer 'clip_id'", describe(rec))
        clip_id = rec["clip_id"]
        where += f" (clip_id {clip_id})"
        descs = rec.get("descs")
        if not isinstance(descs, list) or not descs:
            raise submission_error(path, where, "a non-empty 'descs' list", describe(descs))
        if not isinstance(descs[0], dict) or not isinstance(descs[0].get("desc"), str):
            raise submission_error(path, f"{where} descs[0]", "an object with a string 'desc'", describe(descs[0]))
        if clip_id in preds:
            got = f"a second one (first on line {first_line[clip_id]})"
            raise submission_error(path, where, "one prediction per clip_id", got)
        preds[clip_id] = descs[0]["desc"]
        first_line[clip_id] = lineno
        several += len(descs) > 1
    return preds, several


def score_tvc(submission_path: str | Path, refs_path: str | Path, *, n_boot: int = 1000, seed: int = 0) -> ScoreResult:
    """Score a TVC submission with the official protocol (metrics x100).

    Args:
        submission_path: the submission jsonl (one line per clip, first desc scored).
        refs_path: the TVC annotation jsonl with ``descs`` (e.g. ``tvc_val_release.jsonl``).
        n_boot, seed: bootstrap CIs (``n_boot=0``: none).
    """
    refs = read_tvc_references(refs_path)
    preds, several = read_tvc_predictions(submission_path)
    missing = [c for c in refs if c not in preds]
    if missing:
        raise submission_error(
            submission_path,
            f"clip_id {missing[0]}",
            f"a prediction for each of the {len(refs)} reference clips",
            f"none ({len(missing)} clips missing)",
        )
    extra = [c for c in preds if c not in refs]
    if extra:
        raise submission_error(
            submission_path,
            f"clip_id {extra[0]}",
            f"only clips of the references ({refs_path})",
            f"a clip not among them ({len(extra)} such clips)",
        )
    check_java()
    clip_ids = list(refs)
    raw_hyps = [preds[c] for c in clip_ids]
    hyps = [remove_nonascii(h) for h in raw_hyps]
    ref_texts = [[remove_nonascii(d) for d in refs[c]] for c in clip_ids]
    scores = score_captions(hyps, ref_texts, refs_key=file_key(refs_path, "tvc"))
    per_example = scores.per_example
    per_example.insert(0, "uid", [str(c) for c in clip_ids])
    warnings = list(scores.warnings)
    n_empty = sum(not h.strip() for h in hyps)
    if n_empty:
        warnings.append(f"{n_empty} empty captions (scored as empty, as the official script does)")
    n_nonascii = sum(h != r for h, r in zip(hyps, raw_hyps))
    if n_nonascii:
        warnings.append(f"{n_nonascii} captions had non-ASCII characters, replaced by spaces (remove_nonascii)")
    if several:
        warnings.append(f"{several} predictions have several descs: only the first is scored (official)")
    metrics = {k: v * SCALE for k, v in scores.metrics.items()}
    ci = bootstrap_ci(per_example, CAPTION_METRICS, n_boot=n_boot, seed=seed, scale=SCALE) if n_boot else {}
    return ScoreResult(
        metrics=metrics,
        per_example=per_example,
        ci=ci,
        n=len(clip_ids),
        warnings=warnings,
        breakdowns={},
        protocol="tvc",
        scale=SCALE,
        ci_method=describe_ci(n_boot, seed, 0.95) if n_boot else {},
    )


@cli_errors
def main(argv: list[str] | None = None) -> int:
    """``python -m benchmark.metrics.tvc``: score a TVC submission (official protocol, x100)."""
    p = cli.parser(
        prog("python -m benchmark.metrics.tvc"),
        "Official TVC caption evaluation (first desc per clip, all descs as references, metrics x100).",
        "the submission jsonl ({vid_name, clip_id, ts, descs: [{desc}]} per clip)",
        "the TVC annotation jsonl with descs (e.g. tvc_val_release.jsonl)",
    )
    args = p.parse_args(argv)
    result = score_tvc(args.submission, args.refs, n_boot=args.n_boot, seed=args.seed)
    cli.emit(result, args, CAPTION_METRICS)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
