"""A column or a ledger comparison over some evaluated items only: those whose ``item_tag`` is listed.

``data=mini_lp`` (:mod:`benchmark.data.mini.tvqa_lp`) tags every evaluated item ``seen``,
``heldout_surface`` or ``heldout_semantic``; the runner writes the tag into ``per_example.parquet`` and
the collector keeps it (``benchmark.results.collect_run.ITEM_TAG``). A table column
(``ablations.spec.Column.items``) or a ledger entry (``items:`` in ``results/claims.yaml``) that names
tags is computed over those rows only: each run's metric is recomputed from its per-example rows
before means, intervals and paired tests, so a split value is exactly the metric of the hand-filtered
per-example table.

Only metrics whose value over a subset of items is a function of those items' per-example values can be
split: the means (accuracy, ROUGE-L), the sums of per-example statistics (BLEU, METEOR) and CIDEr-D as
the mean of its per-example values, each computed with the idf of the whole reference set (the quantity
the per-run bootstrap intervals resample too; a CIDEr-D recomputed on the subset alone would re-weigh
n-grams by the subset's idf, which is not what the split asks). A run without the tag (collected before tags
were recorded, or not on a tagged data variant) gets no value: :class:`SplitError`, shown as "n/a".
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping

import pandas as pd

from benchmark.data.mini.tvc_lp import HELDOUT_COMPOSITION
from benchmark.data.mini.tvqa_lp import HELD_OUT_ACTIONS, HELD_OUT_SOUNDS, SEEN_TAG
from benchmark.metrics.result import BLEU_METRICS, aggregate
from benchmark.results.collect_run import ITEM_TAG

# every tag a generator writes (data=mini_lp): a ledger entry or column naming another is a typo
ITEM_TAGS: tuple[str, ...] = (
    SEEN_TAG,
    *sorted({h[1].tag for h in (*HELD_OUT_ACTIONS, *HELD_OUT_SOUNDS)}),
    HELDOUT_COMPOSITION,
)
SPLITTABLE: tuple[str, ...] = ("accuracy", "ROUGE_L", *BLEU_METRICS, "METEOR", "CIDEr")


class SplitError(ValueError):
    """A run's per-example scores cannot be restricted to the items asked for (no tag, no such item)."""


def check_items(metric: str, items: Iterable[str]) -> str | None:
    """Why ``metric`` cannot be computed over the items tagged ``items`` (None: it can, or no split)."""
    items = tuple(items)
    if not items:
        return None
    unknown = [t for t in items if t not in ITEM_TAGS]
    if unknown:
        return f"unknown item tag(s) {unknown}: expected among {', '.join(ITEM_TAGS)}"
    if len(set(items)) != len(items):
        return f"item tags listed twice: {list(items)}"
    if metric not in SPLITTABLE:
        return (
            f"{metric} cannot be split by item: its corpus value is not recomputable from per-example values "
            f"(splittable: {', '.join(SPLITTABLE)})"
        )
    return None


def items_words(items: Iterable[str]) -> str:
    """``items tagged seen`` / ``items tagged heldout_surface or heldout_semantic``; empty for all items."""
    items = tuple(items)
    return f"items tagged {' or '.join(items)}" if items else ""


def restrict(table: pd.DataFrame, items: Iterable[str]) -> pd.DataFrame:
    """The rows of a run's per-example ``table`` whose ``item_tag`` is in ``items`` (all rows if empty);
    :class:`SplitError` when the run recorded no tags or none of its items has these."""
    items = tuple(items)
    if not items:
        return table
    if ITEM_TAG not in table or table[ITEM_TAG].isna().all():
        raise SplitError(f"n/a: no {ITEM_TAG} in the per-example scores (only data=mini_lp runs record it)")
    if table[ITEM_TAG].isna().any():
        raise SplitError(f"n/a: {int(table[ITEM_TAG].isna().sum())} items without an {ITEM_TAG}")
    kept = table[table[ITEM_TAG].isin(items)]
    if kept.empty:
        present = sorted(set(table[ITEM_TAG].astype(str)))
        raise SplitError(f"n/a: no item tagged {' or '.join(items)} (tags present: {', '.join(present)})")
    return kept.reset_index(drop=True)


def restrict_all(per_example: Mapping[str, pd.DataFrame], items: Iterable[str]) -> dict[str, pd.DataFrame]:
    """Each run's restricted table; a run that cannot be restricted is left out (its key is absent)."""
    out = {}
    for key, table in per_example.items():
        try:
            out[key] = restrict(table, items)
        except SplitError:
            continue
    return out


def split_rows(
    rows: pd.DataFrame, metric: str, items: Iterable[str], per_example: Mapping[str, pd.DataFrame], scale: float
) -> pd.DataFrame:
    """Plan / index rows (``key``, ``state``, ``m.<metric>``, ``ci_*``) with each DONE run's ``m.<metric>``
    recomputed over its ``items`` (task scale ``scale``) and its per-run intervals dropped (they are over
    all items). A DONE run that cannot be split gets NaN and its reason in the column ``split_problem``."""
    items = tuple(items)
    out = rows.copy()
    if not items:
        return out
    value_col = f"m.{metric}"
    values, problems = [], []
    for run in out.itertuples(index=False):
        state, key = getattr(run, "state", None), getattr(run, "key", None)
        if state != "DONE":
            values.append(math.nan)
            problems.append(None)
            continue
        if key not in per_example:
            values.append(math.nan)
            problems.append("n/a: no per-example scores collected")
            continue
        try:
            values.append(aggregate(metric, restrict(per_example[key], items), scale=scale))
            problems.append(None)
        except SplitError as err:
            values.append(math.nan)
            problems.append(str(err))
    out[value_col] = values
    out["split_problem"] = problems
    for bound in ("ci_lo", "ci_hi"):
        out[f"{bound}.{metric}"] = math.nan
    return out
