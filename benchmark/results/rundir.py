"""Run identity and the run directory: key, alias, layout, status file, lock, environment record.

Files of a run directory ``<results.root>/<task>/<alias>__<key>/`` (its path: benchmark.results.store; written by
that run alone)::

    config.yaml        the resolved config (frozen when the run is planned)
    key.json           the semantic config that the key hashes, and the key
    status.json        PENDING | RUNNING | DONE | FAILED | PREEMPTED, reason, attempts, job ids
    env.json           git commit and dirty flag, package versions, torch/CUDA, GPU, Java, CPU kernels (host_cpu)
    train_log.jsonl    one JSON object per logged training step / validation
    ckpt/              latest.pt + previous.pt (double buffer), best.pt (selected weights)
    predictions/       eval.<ext> in the official submission format of the task
    per_example.parquet  per-example scores of the eval split (paired tests, bootstrap) and each item's
                       cluster (its video: TVQA clip, TVC video, AVSD dialog image_id)
    metrics.json       written last and atomically: a valid one means DONE
    run.log            the harness's log records of every attempt (appended)
    data.json          real data: the fingerprint of the data the run read (checked on a rerun)
    categories.json    the category words the classifier heads give evaluation clips, written at start
                       (discrete / relaxed tokenizers; benchmark.model.categories)
    planned.json       what the run was planned as: study, arm, role, experiment overlay
    scalars.csv        logger=csv: one step,name,value row per scalar
    tensorboard/       logger=tensorboard: event files
    tracker_final.json the tracker has the final metrics (logger other than none)
    launch.json        submission records, written by the sweep driver (not by the run)
    .lock              held (flock) by the process working on the run

:class:`RunDir` is the one table of these names: every writer and reader goes through its properties.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import math
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf

from benchmark.atomic import atomic_write_json, read_json
from benchmark.config.compose import effective_modalities
from benchmark.config.load import typed_config
from benchmark.config.schema import HeadKind, Schedule, TokenizerKind
from benchmark.errors import ConfigError

STATES = ("PENDING", "RUNNING", "DONE", "FAILED", "PREEMPTED")
LOCKED = "LOCKED"  # not a state of status.json: another process is working on the run
KEY_LENGTH = 12
# the files of ckpt/ (benchmark.runner.checkpoint writes them into any checkpoint folder it is given)
LATEST_CHECKPOINT = "latest.pt"
PREVIOUS_CHECKPOINT = "previous.pt"
BEST_CHECKPOINT = "best.pt"
INCOMING_CHECKPOINT = ".incoming.pt"  # a save in progress


def run_key(semantic: dict[str, Any]) -> str:
    """Short content hash of a semantic config (canonical JSON, sorted keys)."""
    blob = json.dumps(semantic, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()[:KEY_LENGTH]


def modality_label(cfg: DictConfig) -> str:
    """``all``, ``no_<m>``, ``<m>_only``, ``none`` or ``m1+m2`` for the effective modalities of ``cfg``."""
    return label_modalities(list(cfg.task.modalities), effective_modalities(cfg))


def label_modalities(offered: list[str], used: list[str]) -> str:
    """``all``, ``no_<m>``, ``<m>_only``, ``none`` or ``m1+m2``: ``used`` among the ``offered`` modalities."""
    if used == offered:
        return "all"
    if not used:
        return "none"
    if len(used) == 1:
        return f"{used[0]}_only"
    if len(used) == len(offered) - 1 and set(used) <= set(offered):
        (missing,) = [m for m in offered if m not in used]
        return f"no_{missing}"
    return "+".join(used)


def run_alias(cfg: DictConfig) -> str:
    """A readable name for a run; the key beside it makes the folder unique."""
    head = "gen" if cfg.head.kind == HeadKind.generative else "disc"
    tok = cfg.tokenizer.kind.value
    if cfg.tokenizer.kind == TokenizerKind.relaxed and cfg.tokenizer.schedule != Schedule.constant:
        tok = "relaxed_anneal"
    return f"{cfg.model.name}-{modality_label(cfg)}-{tok}-k{cfg.tokenizer.k}-{head}-s{cfg.seed}"


def reseed_alias(alias: str, seed: int) -> str:
    """The :func:`run_alias` of the same config with another seed (a sweep plans seeds without recomposing)."""
    return f"{alias.rsplit('-s', 1)[0]}-s{seed}"


class RunDir:
    """One run's folder and the files in it."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)

    # ------------------------------------------------------------------ paths
    @property
    def config_file(self) -> Path:
        return self.path / "config.yaml"

    @property
    def key_file(self) -> Path:
        return self.path / "key.json"

    @property
    def status_file(self) -> Path:
        return self.path / "status.json"

    @property
    def env_file(self) -> Path:
        return self.path / "env.json"

    @property
    def metrics_file(self) -> Path:
        return self.path / "metrics.json"

    @property
    def per_example_file(self) -> Path:
        return self.path / "per_example.parquet"

    @property
    def train_log(self) -> Path:
        return self.path / "train_log.jsonl"

    @property
    def ckpt_dir(self) -> Path:
        return self.path / "ckpt"

    @property
    def predictions_dir(self) -> Path:
        return self.path / "predictions"

    @property
    def best_checkpoint(self) -> Path:
        return self.ckpt_dir / BEST_CHECKPOINT

    @property
    def launch_file(self) -> Path:
        return self.path / "launch.json"

    @property
    def log_file(self) -> Path:
        return self.path / "run.log"

    @property
    def data_file(self) -> Path:
        return self.path / "data.json"

    @property
    def categories_file(self) -> Path:
        return self.path / "categories.json"

    @property
    def planned_file(self) -> Path:
        return self.path / "planned.json"

    @property
    def scalars_file(self) -> Path:
        return self.path / "scalars.csv"

    @property
    def tensorboard_dir(self) -> Path:
        return self.path / "tensorboard"

    @property
    def tracker_final_file(self) -> Path:
        return self.path / "tracker_final.json"

    @property
    def lock_file(self) -> Path:
        return self.path / ".lock"

    # ------------------------------------------------------------------ identity
    @property
    def name(self) -> str:
        """The folder's name, ``<alias>__<key>``."""
        return self.path.name

    @property
    def key(self) -> str:
        """The run key: the folder name's part after the last ``__``."""
        return self.path.name.rsplit("__", 1)[-1]

    # ------------------------------------------------------------------ state
    def is_done(self) -> bool:
        """A run is DONE exactly when its metrics.json is a valid record (it is written last, atomically).

        A metrics.json that is not one (edited, damaged: see :meth:`metrics_problem`) does not make
        the run DONE: the run is redone and the file replaced.
        """
        return self.metrics_file.is_file() and self.metrics_problem() is None

    def metrics_problem(self) -> str | None:
        """Why metrics.json is not a valid metrics record (None when it is one, or when there is none)."""
        try:
            record = read_json(self.metrics_file)
        except FileNotFoundError:
            return None
        except (OSError, ValueError) as err:  # ValueError: not UTF-8 or not JSON
            return f"{self.metrics_file}: unreadable ({type(err).__name__}: {' '.join(str(err).split())[:120]})"
        metrics = record.get("metrics") if isinstance(record, dict) else None
        if isinstance(metrics, dict) and not metrics and record.get("scored") is False:
            # a leaderboard split (labels hidden): the submission is the result, nothing is scored
            n = record.get("n_predictions")
            if not (isinstance(n, int) and not isinstance(n, bool) and n > 0):
                return f"{self.metrics_file}: an unscored record needs 'n_predictions' > 0"
            submission = record.get("submission")  # the result of an unscored run: it must still be there
            ours = isinstance(submission, str) and submission.startswith(f"{self.predictions_dir.name}/")
            if not isinstance(submission, str) or (ours and not (self.path / submission).is_file()):
                return f"{self.metrics_file}: its submission file {submission!r} is missing"
            return None
        if not isinstance(metrics, dict) or not metrics:
            return f"{self.metrics_file}: expected a JSON object with a non-empty 'metrics' object"
        bad = [k for k, v in metrics.items() if not _finite_number(v)]
        if bad:
            return f"{self.metrics_file}: metric {bad[0]!r} is not a finite number"
        return None

    def read_status(self) -> dict[str, Any]:
        """The status record, ``{"state": "PENDING"}`` when there is none yet; DONE whenever metrics.json is
        valid, whatever status.json says (a process killed between the two leaves it RUNNING)."""
        status = self._read_status_file()
        if self.is_done():
            status["state"] = "DONE"
        return status

    def _read_status_file(self) -> dict[str, Any]:
        """status.json as a record with a known state, an integer attempt count and a history list.

        status.json is written atomically by this harness alone; one that is unreadable (not UTF-8,
        not JSON) or holds wrong types was damaged or edited: it reads as PENDING with the reason, and
        the next write replaces it.
        """
        try:
            status = read_json(self.status_file)
        except FileNotFoundError:
            return {"state": "PENDING"}
        except (OSError, ValueError) as err:  # ValueError: JSONDecodeError, UnicodeDecodeError
            return {"state": "PENDING", "reason": f"unreadable {self.status_file} ({type(err).__name__})"}
        if not isinstance(status, dict):
            return {"state": "PENDING", "reason": f"{self.status_file} is not a JSON object"}
        if status.get("state") not in STATES:
            status = {**status, "state": "PENDING", "reason": f"{self.status_file}: unknown state"}
        if isinstance(status.get("attempts"), bool) or not isinstance(status.get("attempts", 0), int):
            status["attempts"] = 0
        for name in ("history", "attempt_settings"):
            if not isinstance(status.get(name, []), list):
                status[name] = []
        return status

    def settle_done(self, lock_held: bool = False) -> bool:
        """Mark status.json DONE when metrics.json is valid but the status says otherwise (a process
        killed between the two writes); a no-op while another process holds the run. True if DONE."""
        if not self.is_done():
            return False
        if self._read_status_file().get("state") == "DONE":
            return True
        with contextlib.nullcontext(True) if lock_held else self.lock() as acquired:
            if acquired and self._read_status_file().get("state") != "DONE":
                self.write_status("DONE", reason=None, settled=time.time())
        return True

    # files the run's own process writes atomically (temporaries ".<name>.*.tmp"), cleared on start
    OWN_FILES = ("metrics.json", "env.json", "train_log.jsonl", "per_example.parquet", "categories.json")

    def clear_leftovers(self) -> list[Path]:
        """Delete the temporary files a killed run left (atomic-write temporaries, ``ckpt/.incoming.pt``).

        Call only while holding the run's lock: these files belong to the process working on the run.
        """
        found = [p for name in self.OWN_FILES for p in self.path.glob(f".{name}.*.tmp")]
        for folder in (self.ckpt_dir, self.predictions_dir):
            if folder.is_dir():
                leftover = [p for p in folder.glob(".*") if p.suffix == ".tmp" or p.name == INCOMING_CHECKPOINT]
                found += [p for p in leftover if p.is_file()]
        for path in found:
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
        return found

    def write_status(self, state: str, **fields: Any) -> dict[str, Any]:
        """Atomically update status.json: merges ``fields`` into the current record."""
        if state not in STATES:
            raise ValueError(f"unknown run state {state!r}")
        status = self._read_status_file()
        status.update(fields)
        status["state"] = state
        status["updated"] = time.time()
        status.setdefault("history", []).append({"state": state, "time": status["updated"]})
        status["history"] = status["history"][-50:]
        atomic_write_json(self.status_file, status)
        return status

    def load_config(self) -> DictConfig:
        """The frozen, resolved config of this run, typed by the schema (as a composed config is).

        A config.yaml written by an earlier version loads too: see :func:`benchmark.config.load.typed_config`.
        """
        tree = OmegaConf.to_container(OmegaConf.load(self.config_file))
        if not isinstance(tree, dict):
            raise ConfigError("<config>", f"{self.config_file}: not a config mapping")
        return typed_config(tree, str(self.config_file))

    @contextlib.contextmanager
    def lock(self) -> Iterator[bool]:
        """Try to hold ``.lock`` exclusively; yields False when another process holds it.

        The kernel drops the lock when the holder dies, so a crashed run never blocks its rerun.
        """
        self.path.mkdir(parents=True, exist_ok=True)
        fh = open(self.lock_file, "a+")  # noqa: SIM115 - held for the duration of the block
        try:
            try:
                fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                yield False
                return
            try:
                yield True
            finally:
                fcntl.flock(fh.fileno(), fcntl.LOCK_UN)
        finally:
            fh.close()

    def is_locked(self) -> bool:
        """True while some process holds the run's lock (i.e. it is being worked on right now)."""
        if not self.lock_file.exists():
            return False
        with self.lock() as acquired:
            return not acquired


def _finite_number(value: Any) -> bool:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return False
    try:
        return math.isfinite(float(value))
    except OverflowError:
        return False


def check_writable(root: str | Path, key: str = "results.root") -> None:
    """Create ``root`` if needed and probe that files can be written there; :class:`ConfigError` if not."""
    from benchmark.errors import ConfigError

    root = Path(root)
    try:
        root.mkdir(parents=True, exist_ok=True)
        probe = root / f".write-test-{os.getpid()}"
        probe.write_text("ok")
        probe.unlink()
    except OSError as err:
        raise ConfigError(key, f"{root} is not a writable folder: {err.strerror or err}") from None
