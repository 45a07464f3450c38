"""Corpus formulas of BLEU and METEOR, recomputed from summed per-example statistics (numpy, no Java).

Both are *not* means of per-example scores, so resampling examples (bootstrap, paired tests) needs the
sufficient statistics of every example and these formulas. They reproduce, operation for operation,

* pycocoevalcap 1.2 ``BleuScorer.compute_score`` (option ``"closest"``, its ``small = 1e-9`` and
  ``tiny = 1e-15`` constants, brevity penalty ``exp(1 - 1/ratio)`` when ``ratio < 1``), and
* METEOR 1.5 (``meteor-1.5.jar`` shipped with pycocoevalcap, ``-l en -norm``, task "rank":
  alpha 0.85, beta 0.2, gamma 0.6, delta 0.75, module weights exact 1.0, stem 0.6, synonym 0.8,
  paraphrase 0.6): ``MeteorStats.addStats`` + ``MeteorScorer.computeMetrics`` as the JVM runs them for
  ``EVAL ||| stats ||| stats ...`` (read from the jar's bytecode). Checked on the DSTC8 golden
  submission: all 1,710 segment scores and the corpus score equal the JVM's bit for bit.

Every function takes stacked sums, shape ``(B, k)``, and returns ``B`` corpus values, so the same code
scores one corpus (``B = 1``) and a thousand bootstrap resamples.
"""

from __future__ import annotations

import numpy as np

# ---------------------------------------------------------------- BLEU
BLEU_N = 4
BLEU_SMALL = 1e-9  # pycocoevalcap BleuScorer constants
BLEU_TINY = 1e-15
BLEU_COLUMNS: tuple[str, ...] = (
    "bleu_testlen",
    "bleu_reflen",  # the "closest" reference length of the example
    *(f"bleu_guess_{k}" for k in range(1, BLEU_N + 1)),
    *(f"bleu_correct_{k}" for k in range(1, BLEU_N + 1)),
)


def bleu_from_sums(sums: np.ndarray) -> np.ndarray:
    """Corpus BLEU-1..4, shape ``(B, 4)``, from summed :data:`BLEU_COLUMNS`, shape ``(B, 10)``."""
    sums = np.asarray(sums, dtype=np.float64)
    testlen, reflen = sums[:, 0], sums[:, 1]
    guess, correct = sums[:, 2 : 2 + BLEU_N], sums[:, 2 + BLEU_N : 2 + 2 * BLEU_N]
    out = np.empty((sums.shape[0], BLEU_N))
    bleu = np.ones(sums.shape[0])
    for k in range(BLEU_N):
        bleu = bleu * ((correct[:, k] + BLEU_TINY) / (guess[:, k] + BLEU_SMALL))
        out[:, k] = bleu ** (1.0 / (k + 1))
    ratio = (testlen + BLEU_TINY) / (reflen + BLEU_SMALL)
    with np.errstate(divide="ignore", over="ignore"):
        penalty = np.where(ratio < 1, np.exp(1 - 1 / ratio), 1.0)
    return out * penalty[:, None]


# ---------------------------------------------------------------- METEOR
METEOR_ALPHA, METEOR_BETA, METEOR_GAMMA, METEOR_DELTA = 0.85, 0.2, 0.6, 0.75
METEOR_WEIGHTS = (1.0, 0.6, 0.8, 0.6)  # exact, stem, synonym, paraphrase
METEOR_STAGES = len(METEOR_WEIGHTS)

# The 23 numbers of a METEOR 1.5 stats line, in the jar's order (MeteorStats.toString).
METEOR_STAT_COLUMNS: tuple[str, ...] = (
    "meteor_test_len",
    "meteor_ref_len",
    "meteor_test_func",
    "meteor_ref_func",
    *(
        col
        for s in range(1, METEOR_STAGES + 1)
        for col in (
            f"meteor_test_content_{s}",
            f"meteor_ref_content_{s}",
            f"meteor_test_function_{s}",
            f"meteor_ref_function_{s}",
        )
    ),
    "meteor_chunks",
    "meteor_test_word_matches",
    "meteor_ref_word_matches",
)
_I_CHUNKS = METEOR_STAT_COLUMNS.index("meteor_chunks")


def parse_meteor_stats(line: str) -> list[float]:
    """The 23 numbers of one METEOR stats line (what the jar prints for ``SCORE ||| ...``)."""
    values = [float(tok) for tok in line.split()]
    if len(values) != len(METEOR_STAT_COLUMNS):
        raise ValueError(f"METEOR stats line: expected {len(METEOR_STAT_COLUMNS)} numbers, got {line!r}")
    return values


def _stage_slices(stats: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    stages = stats[:, 4 : 4 + 4 * METEOR_STAGES].reshape(stats.shape[0], METEOR_STAGES, 4)
    return stages[:, :, 0], stages[:, :, 1], stages[:, :, 2], stages[:, :, 3]


def _total_matches(stats: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    # MeteorStats(String) sums content then function matches stage by stage (integers: exact in any order)
    test_c, ref_c, test_f, ref_f = _stage_slices(stats)
    return (test_c + test_f).sum(axis=1), (ref_c + ref_f).sum(axis=1)


def meteor_aggregation_rows(stats: np.ndarray) -> np.ndarray:
    """Per-segment rows whose column sums are what ``MeteorStats.addStats`` accumulates.

    ``addStats`` adds a segment's chunks only when the segment is not a perfect match (all words
    matched in one chunk); every other field is a plain sum. The returned rows equal ``stats`` with the
    chunks of perfect segments set to 0, so summing them (with bootstrap multiplicities) gives the
    aggregate statistics of any resample.
    """
    stats = np.array(stats, dtype=np.float64, copy=True, ndmin=2)
    test_total, ref_total = _total_matches(stats)
    perfect = (test_total == stats[:, 0]) & (ref_total == stats[:, 1]) & (stats[:, _I_CHUNKS] == 1)
    stats[perfect, _I_CHUNKS] = 0.0
    return stats


def meteor_from_sums(stats: np.ndarray) -> np.ndarray:
    """METEOR score of each row of (summed) stats, shape ``(B, 23)`` -> ``(B,)``.

    ``MeteorScorer.computeMetrics`` step by step, with Java's IEEE semantics (0/0 = NaN, NaN -> 0).
    On single segments (raw stats rows) it gives the segment scores; on sums of
    :func:`meteor_aggregation_rows` it gives the corpus score.
    """
    stats = np.asarray(stats, dtype=np.float64)
    if stats.ndim != 2 or stats.shape[1] != len(METEOR_STAT_COLUMNS):
        raise ValueError(f"expected METEOR stats of shape (B, {len(METEOR_STAT_COLUMNS)}), got {stats.shape}")
    d = METEOR_DELTA
    test_len, ref_len, test_func, ref_func = stats[:, 0], stats[:, 1], stats[:, 2], stats[:, 3]
    test_c, ref_c, test_f, ref_f = _stage_slices(stats)
    chunks, test_wm, ref_wm = stats[:, _I_CHUNKS], stats[:, _I_CHUNKS + 1], stats[:, _I_CHUNKS + 2]
    test_total, ref_total = _total_matches(stats)
    with np.errstate(divide="ignore", invalid="ignore"):
        test_wlen = d * (test_len - test_func) + (1 - d) * test_func
        ref_wlen = d * (ref_len - ref_func) + (1 - d) * ref_func
        test_wm_sum = np.zeros(stats.shape[0])
        ref_wm_sum = np.zeros(stats.shape[0])
        for i, w in enumerate(METEOR_WEIGHTS):  # the jar's loop order: content stages, then function stages
            test_wm_sum = test_wm_sum + test_c[:, i] * w * d
        for i, w in enumerate(METEOR_WEIGHTS):
            ref_wm_sum = ref_wm_sum + ref_c[:, i] * w * d
        for i, w in enumerate(METEOR_WEIGHTS):
            test_wm_sum = test_wm_sum + test_f[:, i] * w * (1 - d)
        for i, w in enumerate(METEOR_WEIGHTS):
            ref_wm_sum = ref_wm_sum + ref_f[:, i] * w * (1 - d)
        precision = test_wm_sum / test_wlen
        recall = ref_wm_sum / ref_wlen
        f_mean = 1 / ((1 - METEOR_ALPHA) / precision + METEOR_ALPHA / recall)
        perfect = (test_total == test_len) & (ref_total == ref_len) & (chunks == 1)
        frag = np.where(perfect, 0.0, chunks / ((test_wm + ref_wm) / 2))
        frag_penalty = METEOR_GAMMA * np.power(frag, METEOR_BETA)
        score = f_mean * (1 - frag_penalty)
    return np.where(np.isnan(score), 0.0, np.maximum(score, 0.0))
