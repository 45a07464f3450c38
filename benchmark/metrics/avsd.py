"""AVSD scoring with the official DSTC7 / DSTC8 objective-evaluation protocol.

The official package runs ``get_hypotheses.py -l -s data/stopwords.txt result.json hyp.json`` and then
``evaluate.py ref.json hyp.json`` (tylin coco-caption minus SPICE) under Python 2. This module
computes the same thing:

1. hypotheses = the answer of the LAST turn of every dialog, numbered 1..N in file order;
2. the official ``StopwordFilter`` on each: every line of the protocol's stop-word file is a regex
   ``^word$`` (a second word on the line would be a replacement), matched against each whitespace-
   separated token of the UTF-8 bytes (the Python-2 scripts filter ``sent.encode('utf-8')``), and
   matching tokens are dropped. DSTC7's file is ``",\\n.\\n"`` with an unescaped ``.``, so it drops every
   single-byte token (``a``, ``i``, digits, punctuation); DSTC8's is ``",\\n\\\\.\\n"`` (only ``,`` and ``.``);
3. references = the COCO-format multi-reference file as is (6 per answer), image ``i`` <-> hypothesis
   ``i`` (by position: the official scripts match ids 1..N);
4. PTB tokenizer, BLEU-1..4, METEOR, ROUGE-L, CIDEr-D on all answers, as fractions.

The submission is the test file with ``__UNDISCLOSED__`` replaced by generated answers, with every
turn of each dialog or only its last turn (the form of the official DSTC7/DSTC8 sample submissions):
the official script reads only the last answer of each dialog and matches it to the references by
position. So the submission must hold the reference dialogs in the reference order: dialog ``i``'s
``image_id`` must be that of reference ``i`` (named ``{image_id}_{index of the evaluated turn}``) and
the number of dialogs must be the references'; the first dialog that breaks this is named in a
:class:`SubmissionError`. Other fields (questions, captions) are not read. A dialog whose number of
turns is neither the test file's nor 1 is scored and reported as a warning, and so are last-turn-only
dialogs (counted) and empty answers (scored as the official script does).

CLI: ``python -m benchmark.metrics.avsd --protocol {dstc7,dstc8} --refs REFS.json SUBMISSION.json [--json]``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from benchmark.entry import prog
from benchmark.errors import ConfigError, DataFormatError, cli_errors, describe
from benchmark.metrics import cli
from benchmark.metrics.bootstrap import bootstrap_ci, describe_ci
from benchmark.metrics.coco import CAPTION_METRICS, check_java, score_captions
from benchmark.metrics.inputs import file_key, is_int, load_json, submission_error
from benchmark.metrics.result import ScoreResult

PROTOCOLS = ("dstc7", "dstc8")
UNDISCLOSED = "__UNDISCLOSED__"


def default_stopwords(protocol: str) -> Path:
    """The official stop-word file of ``protocol`` (shipped in ``benchmark/metrics/data/``)."""
    if protocol not in PROTOCOLS:
        raise ValueError(f"unknown AVSD protocol {protocol!r}; expected one of {', '.join(PROTOCOLS)}")
    return Path(str(resources.files("benchmark.metrics") / "data" / f"stopwords_{protocol}.txt"))


class StopwordFilter:
    """The official ``StopwordFilter`` of the DSTC7/DSTC8 evaluation package, with its Python-2 semantics."""

    def __init__(self, path: str | Path) -> None:
        self.patterns: list[tuple[re.Pattern[bytes], bytes]] = []
        try:
            data = Path(path).read_bytes()
        except OSError as err:
            raise DataFormatError(path, "", "a readable stop-word file", f"{type(err).__name__}: {err}") from err
        for lineno, line in enumerate(data.split(b"\n"), start=1):
            words = line.split()
            if len(words) not in (1, 2):
                continue  # the official filter ignores blank lines and lines of 3+ words
            try:
                pattern = re.compile(b"^" + words[0] + b"$")
            except re.error as err:
                raise DataFormatError(path, f"line {lineno}", "a regular expression", f"{words[0]!r}: {err}") from err
            self.patterns.append((pattern, words[1] if len(words) == 2 else b""))

    def __call__(self, sentence: str) -> str:
        """Drop (or replace) the matching tokens of ``sentence``; tokens are re-joined with single spaces."""
        kept = []
        for word in sentence.encode("utf-8").split():
            target = word
            for pattern, replacement in self.patterns:
                new = pattern.sub(replacement, word)
                if new != word:
                    target = new
                    break
            if target:
                kept.append(target)
        return b" ".join(kept).decode("utf-8")


@dataclass(frozen=True)
class Reference:
    """One reference image of the multiref file: id (1..N), name ``{image_id}_{turn}``, captions."""

    id: int
    name: str
    captions: list[str]


def read_multiref(path: str | Path) -> list[Reference]:
    """The COCO-format multi-reference file, validated, ordered by image id (which must be 1..N)."""
    data = load_json(path, submission=False)
    if (
        not isinstance(data, dict)
        or not isinstance(data.get("images"), list)
        or not isinstance(data.get("annotations"), list)
    ):
        raise DataFormatError(
            path, "top level", "a COCO captions object with 'images' and 'annotations' lists", describe(data)
        )
    names: dict[int, str] = {}
    for i, image in enumerate(data["images"]):
        if not isinstance(image, dict) or not is_int(image.get("id")) or not isinstance(image.get("name"), str):
            raise DataFormatError(
                path, f"images[{i}]", "an object with an integer 'id' and a string 'name'", describe(image)
            )
        if image["id"] in names:
            raise DataFormatError(path, f"images[{i}]", "unique image ids", f"id {image['id']} again")
        vid, _, turn = image["name"].rpartition("_")
        if not vid or not turn.isdigit():
            raise DataFormatError(path, f"images[{i}]", "a name '{image_id}_{turn index}'", repr(image["name"]))
        names[image["id"]] = image["name"]
    if sorted(names) != list(range(1, len(names) + 1)):
        raise DataFormatError(path, "images", f"ids 1..{len(names)} (hypotheses are matched to them by position)")
    captions: dict[int, list[str]] = {k: [] for k in names}
    for i, ann in enumerate(data["annotations"]):
        if not isinstance(ann, dict) or ann.get("image_id") not in captions or not isinstance(ann.get("caption"), str):
            raise DataFormatError(
                path, f"annotations[{i}]", "an object with a known 'image_id' and a string 'caption'", describe(ann)
            )
        captions[ann["image_id"]].append(ann["caption"])
    for k, caps in captions.items():
        if not caps:
            raise DataFormatError(path, f"image {k} ({names[k]!r})", "at least one reference caption", "none")
    if not names:
        raise DataFormatError(path, "images", "at least one image", "an empty list")
    return [Reference(k, names[k], captions[k]) for k in sorted(names)]


def _reference_image(ref: Reference) -> tuple[str, int]:
    """``(image_id, index of the evaluated turn)`` of a reference named ``{image_id}_{turn}``."""
    vid, _, turn = ref.name.rpartition("_")
    return vid, int(turn)


def _last_answer(path: str | Path, i: int, dialog: object, ref: Reference) -> tuple[str, int]:
    """The last answer of submission dialog ``i`` (0-based) and its number of turns, checked against ``ref``."""
    where = f"dialog {i + 1}"
    if not isinstance(dialog, dict) or not isinstance(dialog.get("image_id"), str):
        raise submission_error(path, where, "an object with a string 'image_id'", describe(dialog))
    where += f" (image_id {dialog['image_id']!r})"
    vid, _ = _reference_image(ref)
    if dialog["image_id"] != vid:
        raise submission_error(
            path,
            where,
            f"image_id {vid!r} of reference {ref.id} {ref.name!r} (answers are matched to the references by "
            "position, as the official script does: the dialogs must be those of the test file, in its order)",
            repr(dialog["image_id"]),
        )
    turns = dialog.get("dialog")
    if not isinstance(turns, list) or not turns:
        raise submission_error(path, where, "a non-empty 'dialog' list of turns", describe(turns))
    last = turns[-1]
    if not isinstance(last, dict) or "answer" not in last:
        raise submission_error(path, where, "an 'answer' in the last turn", describe(last))
    answer = last["answer"]
    if not isinstance(answer, str):
        raise submission_error(path, where, "the last answer to be a string", describe(answer))
    if answer == UNDISCLOSED:
        raise submission_error(path, where, "a generated last answer", f"{UNDISCLOSED!r} (not filled in)")
    return answer, len(turns)


def _turn_count_warnings(counts: list[int], refs: list[Reference]) -> list[str]:
    """Warnings for dialogs whose number of turns is not the test file's (answers are still scored)."""
    last_only, other = 0, []
    for i, (n, ref) in enumerate(zip(counts, refs)):
        expected = _reference_image(ref)[1] + 1
        if n == expected:
            continue
        if n == 1:
            last_only += 1
        else:
            other.append(f"dialog {i + 1} ({ref.name!r}) has {n} turns, the test file's {expected}")
    warnings = []
    if last_only:
        warnings.append(
            f"{last_only} of {len(refs)} dialogs hold only their last turn (the form of the official packages' "
            "sample submissions): each last answer is scored against the reference at its position, as the "
            "official script does"
        )
    if other:
        warnings.append(
            f"{len(other)} dialogs hold a number of turns other than the test file's (first: {other[0]}): their "
            "last answer is scored against the reference at its position, as the official script does; check "
            "that it answers the test file's last question"
        )
    return warnings


def read_last_answers(path: str | Path, refs: list[Reference]) -> tuple[list[str], list[str]]:
    """The last-turn answers of a submission and warnings, checked dialog by dialog against the references.

    Accepted, like the official ``get_hypotheses.py -l``: dialogs with all their turns (the test file
    with the undisclosed answer filled in) or with only the last turn (the official sample submissions),
    or a mix. Dialog ``i`` is matched to reference ``i`` by position; its ``image_id`` must be the
    reference's (a :class:`SubmissionError` names the first dialog that differs), and the number of
    dialogs must be the references'. A number of turns other than the test file's is a warning.
    """
    data = load_json(path, submission=True)
    if not isinstance(data, dict) or not isinstance(data.get("dialogs"), list):
        raise submission_error(
            path, "top level", "an object with a 'dialogs' list (the test file format)", describe(data)
        )
    dialogs = data["dialogs"]
    answers, counts = [], []
    for i, (dialog, ref) in enumerate(zip(dialogs, refs)):
        answer, n_turns = _last_answer(path, i, dialog, ref)
        answers.append(answer)
        counts.append(n_turns)
    if len(dialogs) < len(refs):
        missing = refs[len(dialogs)]
        raise submission_error(
            path,
            f"dialog {len(dialogs) + 1}",
            f"{len(refs)} dialogs like the references (next: {missing.name!r})",
            f"only {len(dialogs)}",
        )
    if len(dialogs) > len(refs):
        raise submission_error(
            path, f"dialog {len(refs) + 1}", f"only {len(refs)} dialogs like the references", f"{len(dialogs)}"
        )
    return answers, _turn_count_warnings(counts, refs)


def score_avsd(
    submission_path: str | Path,
    refs_path: str | Path,
    protocol: str,
    stopwords_path: str | Path | None = None,
    *,
    n_boot: int = 1000,
    seed: int = 0,
) -> ScoreResult:
    """Score an AVSD submission with the official DSTC7/DSTC8 protocol (fractions, like "CIDEr: 0.733").

    Args:
        submission_path: the test file with the last answers generated (JSON, ``{"dialogs": [...]}``).
        refs_path: the COCO-format multiref file of the same test set.
        protocol: ``"dstc7"`` or ``"dstc8"`` (selects the official stop-word file).
        stopwords_path: another stop-word file instead of the protocol's (not official).
        n_boot, seed: bootstrap CIs (``n_boot=0``: none).
    """
    if protocol not in PROTOCOLS:
        raise ConfigError("task.protocol", f"AVSD protocol must be one of {', '.join(PROTOCOLS)}, got {protocol!r}")
    swfilter = StopwordFilter(stopwords_path or default_stopwords(protocol))
    refs = read_multiref(refs_path)
    answers, submission_warnings = read_last_answers(submission_path, refs)
    check_java()
    hyps = [swfilter(a) for a in answers]
    scores = score_captions(hyps, [r.captions for r in refs], refs_key=file_key(refs_path, "avsd"))
    per_example = scores.per_example
    per_example.insert(0, "uid", [r.name for r in refs])
    warnings = [*submission_warnings, *scores.warnings]
    n_empty = sum(not h.strip() for h in hyps)
    if n_empty:
        warnings.append(
            f"{n_empty} empty answers after the stop-word filter (scored as empty, as the official script does)"
        )
    if stopwords_path is not None and Path(stopwords_path).read_bytes() != default_stopwords(protocol).read_bytes():
        warnings.append(f"stop words from {stopwords_path}, not the official {protocol} file")
    ci = bootstrap_ci(per_example, CAPTION_METRICS, n_boot=n_boot, seed=seed) if n_boot else {}
    return ScoreResult(
        metrics=scores.metrics,
        per_example=per_example,
        ci=ci,
        n=len(refs),
        warnings=warnings,
        breakdowns={},
        protocol=protocol,
        scale=1.0,
        ci_method=describe_ci(n_boot, seed, 0.95) if n_boot else {},
    )


@cli_errors
def main(argv: list[str] | None = None) -> int:
    """``python -m benchmark.metrics.avsd``: score an AVSD submission (official DSTC7/DSTC8 protocol)."""
    p = cli.parser(
        prog("python -m benchmark.metrics.avsd"),
        "Official DSTC7/DSTC8 AVSD objective evaluation (last turn, stop words, 6 references).",
        "the test file with the last answers generated (JSON)",
        "the COCO-format multiref file (test_set4DSTC{7,8}-AVSD_multiref.json)",
    )
    p.add_argument("--protocol", required=True, choices=PROTOCOLS, help="the official protocol (required)")
    p.add_argument(
        "--stopwords",
        help="a stop-word file instead of the protocol's official one, which makes the score not official"
        " (default: the official stopwords_<protocol>.txt shipped in benchmark/metrics/data)",
    )
    args = p.parse_args(argv)
    result = score_avsd(args.submission, args.refs, args.protocol, args.stopwords, n_boot=args.n_boot, seed=args.seed)
    cli.emit(result, args, CAPTION_METRICS)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
