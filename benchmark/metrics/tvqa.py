"""TVQA scoring: multiple-choice accuracy in percent, with breakdowns by show and by question word.

Predictions are the VALUE submission format ``{"<qid>": answer_idx, ...}`` (``answer_idx`` an integer
0..4). References may be any of the three released label formats:

* a TVQA jsonl (``tvqa_val.jsonl``: one question per line with ``qid``, ``q``, ``show_name``,
  ``answer_idx``); ``tvqa_test_public.jsonl`` has no labels and is refused;
* a TVQA+ json list (``tvqa_plus_val.json``: ``answer_idx`` is a string, no ``show_name``: the show is
  read from the ``vid_name`` prefix, TVQA+ being all The Big Bang Theory, whose names have no prefix);
* the VALUE answer key ``{"split": ..., "solution": {show_name: {qid: answer_idx}}}`` (no questions, so
  no breakdown by question word).

Every reference qid needs a prediction (a missing one is a :class:`SubmissionError` naming it);
predictions for other qids are ignored with a warning, as the VALUE scorer ignores them. A qid that
occurs twice in the predictions (``json`` would keep the last value) is a :class:`SubmissionError`
naming the qid and both lines, as the TVC scorer does for a clip_id; a key twice in one object of a
reference file is a :class:`DataFormatError`.

CLI: ``python -m benchmark.metrics.tvqa --refs REFS PREDS.json [--json]``.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from benchmark.entry import prog
from benchmark.errors import DataFormatError, cli_errors, describe
from benchmark.metrics import cli
from benchmark.metrics.bootstrap import bootstrap_ci, describe_ci
from benchmark.metrics.inputs import (
    DuplicateKeyError,
    duplicate_key_error,
    is_int,
    iter_jsonl,
    load_json,
    malformed,
    submission_error,
    unique_object,
)
from benchmark.metrics.result import ScoreResult

SCALE = 100.0
N_CHOICES = 5
QUESTION_WORDS = ("what", "who", "where", "why", "how", "when", "which")
# vid_name prefix -> show_name (TVQA's spelling, typo included); Big Bang Theory names have no prefix
SHOW_OF_PREFIX = {
    "friends": "Friends",
    "met": "How I Met You Mother",
    "house": "House M.D.",
    "grey": "Grey's Anatomy",
    "castle": "Castle",
}
BBT = "The Big Bang Theory"
_QID = re.compile(r"^[0-9]+$")


@dataclass(frozen=True)
class TvqaLabel:
    """The answer of one question and what the breakdowns need (``None`` where the format lacks it)."""

    answer: int
    show: str | None
    qword: str | None


def question_word(question: str) -> str:
    """The lower-cased leading word of a question if it is a wh-word (``what's`` -> ``what``), else ``other``."""
    match = re.match(r"\s*([A-Za-z]+)", question)
    word = match.group(1).lower() if match else ""
    return word if word in QUESTION_WORDS else "other"


def show_of_vid_name(vid_name: str) -> str:
    """The show of a TVQA clip name: its prefix, or The Big Bang Theory when it has none."""
    prefix = vid_name.split("_", 1)[0]
    return SHOW_OF_PREFIX.get(prefix, BBT)


def _answer(value: object, path: str | Path, where: str) -> int:
    if isinstance(value, str) and value.strip().isdigit():  # TVQA+ stores "3"
        value = int(value)
    if not is_int(value) or not 0 <= value < N_CHOICES:
        raise DataFormatError(path, where, f"an answer_idx in 0..{N_CHOICES - 1}", describe(value))
    return value


def _label_from_record(rec: object, path: str | Path, where: str, plus: bool) -> tuple[str, TvqaLabel]:
    if not isinstance(rec, dict) or not is_int(rec.get("qid")):
        raise DataFormatError(path, where, "a question object with an integer 'qid'", describe(rec))
    where += f" (qid {rec['qid']})"
    if "answer_idx" not in rec:
        raise DataFormatError(path, where, "an 'answer_idx' (test labels are hidden: score test on the leaderboard)")
    if not isinstance(rec.get("q"), str):
        raise DataFormatError(path, where, "a string question 'q'", describe(rec.get("q")))
    if plus:
        if not isinstance(rec.get("vid_name"), str):
            raise DataFormatError(path, where, "a string 'vid_name'", describe(rec.get("vid_name")))
        show = show_of_vid_name(rec["vid_name"])
    else:
        if not isinstance(rec.get("show_name"), str):
            raise DataFormatError(path, where, "a string 'show_name'", describe(rec.get("show_name")))
        show = rec["show_name"]
    label = TvqaLabel(_answer(rec["answer_idx"], path, where), show, question_word(rec["q"]))
    return str(rec["qid"]), label


def _add(labels: dict[str, TvqaLabel], qid: str, label: TvqaLabel, path: str | Path, where: str) -> None:
    if qid in labels:
        raise DataFormatError(path, where, "each qid once", f"qid {qid} again")
    labels[qid] = label


def read_tvqa_labels(path: str | Path) -> dict[str, TvqaLabel]:
    """``{qid: label}`` in file order from a TVQA jsonl, a TVQA+ json list or a VALUE solution file."""
    try:
        text = Path(path).read_text(encoding="utf-8")
        data = json.loads(text, object_pairs_hook=unique_object)
    except json.JSONDecodeError:
        data = None  # not one JSON document: JSON lines
    except (OSError, UnicodeDecodeError) as err:
        raise DataFormatError(path, "", "a readable UTF-8 label file", f"{type(err).__name__}: {err}") from err
    except DuplicateKeyError as err:  # e.g. a qid twice in one show of a VALUE solution file
        raise duplicate_key_error(path, text, err.key, "key", submission=False) from None
    except (RecursionError, ValueError) as err:  # nested too deeply, an integer past the conversion limit
        raise DataFormatError(path, "", "a TVQA label file", malformed(err)) from None
    labels: dict[str, TvqaLabel] = {}
    if isinstance(data, dict) and "solution" in data:
        if not isinstance(data["solution"], dict):
            expected = "an object {show_name: {qid: answer_idx}}"
            raise DataFormatError(path, "solution", expected, describe(data["solution"]))
        for show, answers in data["solution"].items():
            if not isinstance(answers, dict):
                raise DataFormatError(path, f"solution[{show!r}]", "an object {qid: answer_idx}", describe(answers))
            for qid, ans in answers.items():
                where = f"solution[{show!r}][{qid!r}]"
                if not _QID.match(str(qid)):
                    raise DataFormatError(path, where, "a numeric qid", repr(qid))
                _add(labels, str(int(qid)), TvqaLabel(_answer(ans, path, where), show, None), path, where)
    elif isinstance(data, list):
        for i, rec in enumerate(data):
            qid, label = _label_from_record(rec, path, f"item {i}", plus=True)
            _add(labels, qid, label, path, f"item {i}")
    else:
        for lineno, rec in iter_jsonl(path, submission=False):
            qid, label = _label_from_record(rec, path, f"line {lineno}", plus=False)
            _add(labels, qid, label, path, f"line {lineno}")
    if not labels:
        raise DataFormatError(path, "", "at least one labelled question", "none")
    return labels


def read_tvqa_predictions(path: str | Path) -> dict[str, int]:
    """``{qid: answer_idx}`` from a VALUE-format prediction file, validated."""
    data = load_json(path, submission=True, unique_keys="qid")
    if not isinstance(data, dict):
        raise submission_error(path, "top level", 'an object {"<qid>": answer_idx}', describe(data))
    preds: dict[str, int] = {}
    for key, value in data.items():
        if not _QID.match(key):
            raise submission_error(path, f"key {key!r}", "a numeric qid")
        if not is_int(value) or not 0 <= value < N_CHOICES:
            raise submission_error(path, f"qid {key}", f"an integer answer_idx in 0..{N_CHOICES - 1}", describe(value))
        qid = str(int(key))
        if qid in preds:
            raise submission_error(path, f"qid {key}", "each qid once", "it again (as another spelling)")
        preds[qid] = value
    return preds


def _breakdown(per_example: pd.DataFrame, column: str, order: list[str]) -> dict[str, float]:
    groups = per_example.groupby(column, sort=False)["accuracy"]
    means = {str(k): float(np.mean(v.to_numpy(dtype=np.float64))) * SCALE for k, v in groups}
    return {k: means[k] for k in order if k in means}


def score_tvqa(
    predictions_path: str | Path, refs_path: str | Path, *, n_boot: int = 1000, seed: int = 0
) -> ScoreResult:
    """Accuracy (percent) of TVQA predictions, with breakdowns ``by_show`` and ``by_qword``."""
    labels = read_tvqa_labels(refs_path)
    preds = read_tvqa_predictions(predictions_path)
    missing = [q for q in labels if q not in preds]
    if missing:
        raise submission_error(
            predictions_path,
            f"qid {missing[0]}",
            f"a prediction for each of the {len(labels)} labelled questions",
            f"none ({len(missing)} questions missing)",
        )
    qids = list(labels)
    per_example = pd.DataFrame(
        {
            "uid": qids,
            "accuracy": np.asarray([int(preds[q] == labels[q].answer) for q in qids], dtype=np.int64),
            "pred": np.asarray([preds[q] for q in qids], dtype=np.int64),
            "answer": np.asarray([labels[q].answer for q in qids], dtype=np.int64),
            "show": [labels[q].show for q in qids],
            "qword": [labels[q].qword for q in qids],
        }
    )
    accuracy = float(np.mean(per_example["accuracy"].to_numpy(dtype=np.float64))) * SCALE
    breakdowns = {}
    if all(labels[q].show is not None for q in qids):
        breakdowns["by_show"] = _breakdown(per_example, "show", sorted(set(per_example["show"])))
    if all(labels[q].qword is not None for q in qids):
        breakdowns["by_qword"] = _breakdown(per_example, "qword", [*QUESTION_WORDS, "other"])
    warnings = []
    extra = len(preds) - len(qids)
    if extra:
        warnings.append(f"{extra} predictions for qids not in the references were ignored")
    if "by_qword" not in breakdowns:
        warnings.append("the references have no questions: no breakdown by question word")
    ci = bootstrap_ci(per_example, ["accuracy"], n_boot=n_boot, seed=seed, scale=SCALE) if n_boot else {}
    return ScoreResult(
        metrics={"accuracy": accuracy},
        per_example=per_example,
        ci=ci,
        n=len(qids),
        warnings=warnings,
        breakdowns=breakdowns,
        protocol="accuracy",
        scale=SCALE,
        ci_method=describe_ci(n_boot, seed, 0.95) if n_boot else {},
    )


def _json_payload(result: ScoreResult) -> dict[str, object]:
    return {
        "accuracy": result.metrics["accuracy"],
        "by_show": result.breakdowns.get("by_show", {}),
        "by_qword": result.breakdowns.get("by_qword", {}),
    }


@cli_errors
def main(argv: list[str] | None = None) -> int:
    """``python -m benchmark.metrics.tvqa``: accuracy of TVQA predictions (percent)."""
    p = cli.parser(
        prog("python -m benchmark.metrics.tvqa"),
        "TVQA multiple-choice accuracy (percent), by show and by question word.",
        'the predictions, {"<qid>": answer_idx}',
        "the labels: TVQA jsonl with answer_idx, TVQA+ json list, or VALUE tvqa_val_solution.json",
    )
    args = p.parse_args(argv)
    result = score_tvqa(args.submission, args.refs, n_boot=args.n_boot, seed=args.seed)
    cli.emit(result, args, ["accuracy"], _json_payload)
    if not args.json:
        for name, table in result.breakdowns.items():
            for key, value in table.items():
                print(f"{name} {key}: {value:.3f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
