"""The training loop: AdamW + warm-up/decay, accumulation, clipping, AMP, validation, resume.

Determinism: the order of batches of epoch ``e`` is a pure function of ``(seed, e)``, and a
checkpoint stores the model, optimiser, scheduler, every RNG and the data position (epoch, batch),
so a run resumed from a checkpoint continues bit-identically on the CPU.

On a GPU the step never waits for the host: batches come from pinned memory with non-blocking
copies (DataLoader workers prefetching), token counts are taken from the CPU batch, AdamW is fused,
and the non-finite-loss check is kept on the device and read only where the loop must look anyway
(logging, validation, checkpoints, the end), naming the first bad step. On the CPU every step is
checked at once, as before. ``train.pad_to_multiple`` gives compiled steps a fixed set of shapes
(:mod:`benchmark.model.shapes`).
"""

from __future__ import annotations

import functools
import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

import torch
from omegaconf import DictConfig
from torch.utils.data import DataLoader
from tqdm import tqdm

from benchmark.data.batching import batch_plan
from benchmark.errors import RunFailedError
from benchmark.model.shapes import PaddedCollate
from benchmark.results.rundir import RunDir
from benchmark.runner.checkpoint import load_checkpoint, rng_state, save_best, save_checkpoint, set_rng_state
from benchmark.runner.distributed import DistInfo
from benchmark.runner.param_groups import DecayToInit, param_groups
from benchmark.runner.signals import StopFlag
from benchmark.runner.trainlog import TrainLog


@dataclass
class TrainState:
    """Where training is; saved in every checkpoint."""

    step: int = 0  # optimiser steps done
    epoch: int = 0
    batch_in_epoch: int = 0  # micro-batches of the current epoch already consumed
    best_metric: float | None = None
    best_step: int = -1
    evals_without_improvement: int = 0
    last_eval_step: int = -1
    stopped_early: bool = False
    train_time_s: float = 0.0


class NonFiniteLossError(RunFailedError):
    """The loss became NaN or infinite."""


def _raise_if_bad(bad_step: torch.Tensor, bad_loss: torch.Tensor | None) -> None:
    """Raise :class:`NonFiniteLossError` naming the first bad step recorded on the device (synchronises)."""
    step = int(bad_step.item())
    if step:
        value = float(bad_loss.item()) if bad_loss is not None else float("nan")
        raise NonFiniteLossError(f"non-finite loss {value} at step {step}")


def lr_lambda(kind: str, warmup: int, total: int) -> Callable[[int], float]:
    """Multiplier of the peak learning rate at a step: linear warm-up, then linear/cosine/constant."""

    def f(step: int) -> float:
        if warmup > 0 and step < warmup:
            return (step + 1) / warmup
        if kind == "constant":
            return 1.0
        progress = min(1.0, (step - warmup) / max(1, total - warmup))
        if kind == "cosine":
            return 0.5 * (1.0 + math.cos(math.pi * progress))
        return max(0.0, 1.0 - progress)

    return f


class Trainer:
    """Trains one model on one task; validation picks the best weights on the task's main metric."""

    def __init__(
        self,
        cfg: DictConfig,
        model: torch.nn.Module,
        *,
        train_set: Any,
        dev_set: Any,
        run: RunDir,
        dist: DistInfo,
        validate_fn: Callable[[], dict[str, float]],
        semantic: dict[str, Any],
        stop: StopFlag,
    ) -> None:
        self.cfg, self.tc = cfg, cfg.train
        self.model, self.train_set, self.dev_set = model, train_set, dev_set
        self.run, self.dist, self.validate_fn, self.semantic, self.stop = run, dist, validate_fn, semantic, stop
        self.device = dist.device
        self.main_metric = str(cfg.task.main_metric)
        self.log = TrainLog(run.train_log, enabled=dist.is_main)
        self.optimizer = torch.optim.AdamW(
            param_groups(
                model,
                self.tc.lr,
                self.tc.weight_decay,
                self.tc.classifier_lr_mult,
                self.tc.classifier_regularization.value,
            ),
            lr=self.tc.lr,
            **({"fused": True} if self.device.type == "cuda" else {}),
        )
        self.decay_to_init = DecayToInit(self.optimizer)  # anchored on the built model, before any resume
        self.scheduler = torch.optim.lr_scheduler.LambdaLR(
            self.optimizer, lr_lambda(self.tc.lr_schedule.value, self.tc.warmup_steps, self.tc.max_steps)
        )
        self.state = TrainState()
        self.train_model = model
        if dist.world_size > 1:
            self.train_model = torch.nn.parallel.DistributedDataParallel(
                model,
                device_ids=[self.device.index] if self.device.type == "cuda" else None,
                find_unused_parameters=True,
            )
        self.pad_multiple = int(self.tc.pad_to_multiple)
        if self.tc.compile:
            if self.pad_multiple > 0:  # a fixed set of shapes: one static graph per bucket
                buckets = -(-int(cfg.model.assembly.max_source_len) // self.pad_multiple)
                dyn = torch._dynamo.config
                limit = "recompile_limit" if hasattr(dyn, "recompile_limit") else "cache_size_limit"
                setattr(dyn, limit, max(getattr(dyn, limit), 4 * buckets + 8))
            self.train_model = torch.compile(self.train_model, dynamic=False if self.pad_multiple > 0 else None)
        self.autocast_dtype = self._autocast_dtype()
        lengths = [train_set.approx_length(i) for i in range(len(train_set))]
        self.lengths = lengths

    def _autocast_dtype(self) -> torch.dtype | None:
        prec = self.tc.precision
        if prec == "bf16" or (prec == "auto" and self.device.type == "cuda"):
            return torch.bfloat16
        return None

    # ------------------------------------------------------------------ checkpoints
    def resume(self) -> bool:
        """Load the latest checkpoint if there is one (refusing one of another config)."""
        payload = load_checkpoint(self.run.ckpt_dir, self.semantic)
        if payload is None:  # a run killed before its first checkpoint starts over: drop what it logged
            self.log.truncate_after(0)
            return False
        self.model.load_state_dict(payload["model"])
        self.optimizer.load_state_dict(payload["optimizer"])
        self.scheduler.load_state_dict(payload["scheduler"])
        self.state = TrainState(**payload["state"])
        set_rng_state(payload["rng"])
        self.model.set_step(self.state.step)
        self.log.truncate_after(self.state.step)
        self.log.write({"event": "resumed", "step": self.state.step, "from": payload["loaded_from"]})
        return True

    def _save(self) -> None:
        if not self.dist.is_main:
            return
        save_checkpoint(
            self.run.ckpt_dir,
            {
                "model": self.model.state_dict(),
                "optimizer": self.optimizer.state_dict(),
                "scheduler": self.scheduler.state_dict(),
                "rng": rng_state(),
                "state": asdict(self.state),
                "semantic": self.semantic,
                "key": self.run.key,
            },
        )

    # ------------------------------------------------------------------ validation
    def _validate(self) -> None:
        st = self.state
        scores = self.validate_fn() if self.dist.is_main else {}
        scores = self.dist.broadcast_object(scores)
        value = float(scores[self.main_metric])
        st.last_eval_step = st.step
        improved = st.best_metric is None or value > st.best_metric
        if improved:
            st.best_metric, st.best_step, st.evals_without_improvement = value, st.step, 0
            if self.dist.is_main:
                save_best(self.run.ckpt_dir, self.model.state_dict(), st.step, value)
        else:
            st.evals_without_improvement += 1
        self.log.write({"step": st.step, "dev": scores, "best": st.best_metric, "improved": improved})
        patience = self.tc.early_stop_patience
        if patience > 0 and st.evals_without_improvement >= patience:
            st.stopped_early = True

    # ------------------------------------------------------------------ the loop
    def _loader(self, batches: list[list[int]]) -> DataLoader:
        collate: Callable = functools.partial(self.model.collate, train=True)
        if self.pad_multiple > 0:
            collate = PaddedCollate(
                self.model.collate,
                self.pad_multiple,
                self.model.collator.specials.pad,
                max_source_len=int(self.cfg.model.assembly.max_source_len),
                max_target_len=int(self.cfg.model.max_target_len),
            )
        cuda = self.device.type == "cuda"
        workers = int(self.tc.num_workers)
        return DataLoader(
            self.train_set,
            batch_sampler=batches,
            collate_fn=collate,
            num_workers=workers,
            persistent_workers=False,
            pin_memory=cuda,  # with non-blocking copies in fit(): the copy overlaps the previous step
            **({"prefetch_factor": 4} if cuda and workers > 0 else {}),
            # A DataLoader iterator draws a worker seed from the *global* RNG unless given its own
            # generator; re-creating the loader on resume would then shift the dropout/Gumbel stream.
            generator=torch.Generator().manual_seed(int(self.cfg.seed)),
        )

    def fit(self) -> TrainState:
        """Train until max_steps (or early stopping), validating and checkpointing on the way."""
        tc, st = self.tc, self.state
        ga = tc.grad_accum
        bar = tqdm(
            total=tc.max_steps,
            initial=st.step,
            disable=not (tc.progress and self.dist.is_main),
            desc=f"{self.cfg.task.name} {self.run.path.name[:40]}",
            dynamic_ncols=True,
            mininterval=1.0,
        )
        self.train_model.train()
        tokens, t_last = 0, time.perf_counter()
        cuda = self.device.type == "cuda"
        # GPU: (first step with a non-finite loss, its loss) kept on the device; 0 = none so far.
        bad_step = torch.zeros((), dtype=torch.long, device=self.device) if cuda else None
        bad_loss = torch.zeros((), device=self.device) if cuda else None
        while st.step < tc.max_steps and not st.stopped_early:
            batches = batch_plan(
                self.lengths, tc.batch_size, seed=int(self.cfg.seed), epoch=st.epoch, bucket=tc.bucket_by_length
            )
            batches = batches[: len(batches) - len(batches) % (ga * self.dist.world_size)]
            batches = batches[self.dist.rank :: self.dist.world_size]
            if not batches:
                raise RunFailedError(f"the training split has fewer than {tc.batch_size * ga} examples")
            todo = batches[st.batch_in_epoch :]
            for batch in self._loader(todo):
                t0 = time.perf_counter()
                tokens += self.model.num_input_tokens(batch) + self.model.num_target_tokens(batch)  # on the CPU
                batch = batch.to(self.device, non_blocking=cuda)
                with torch.autocast(
                    self.device.type, dtype=self.autocast_dtype, enabled=self.autocast_dtype is not None
                ):
                    loss = self.train_model(batch)
                if bad_step is None:
                    if not torch.isfinite(loss):
                        raise NonFiniteLossError(f"non-finite loss {loss.item()} at step {st.step + 1}")
                else:
                    first = (bad_step == 0) & ~torch.isfinite(loss.detach())
                    bad_step = torch.where(first, st.step + 1, bad_step)
                    bad_loss = torch.where(first, loss.detach().float(), bad_loss)
                (loss / ga).backward()
                st.batch_in_epoch += 1
                if st.batch_in_epoch % ga:
                    continue
                if tc.clip_grad > 0:
                    torch.nn.utils.clip_grad_norm_(self.model.parameters(), tc.clip_grad)
                if self.decay_to_init:
                    self.decay_to_init.step()
                self.optimizer.step()
                self.scheduler.step()
                self.optimizer.zero_grad(set_to_none=True)
                st.step += 1
                self.model.set_step(st.step)
                st.train_time_s += time.perf_counter() - t0
                bar.update(1)
                must_look = st.step % tc.log_every == 0 or st.step % tc.eval_every == 0 or st.step == tc.max_steps
                if bad_step is not None and (must_look or st.step % tc.ckpt_every == 0 or self.stop.requested):
                    _raise_if_bad(bad_step, bad_loss)  # the only host synchronisation of the step
                if st.step % tc.log_every == 0 or st.step == tc.max_steps:
                    now = time.perf_counter()
                    tps = tokens * self.dist.world_size / max(1e-9, now - t_last)
                    tokens, t_last = 0, now
                    entry = {"step": st.step, "loss": float(loss.item()), "lr": self.scheduler.get_last_lr()[0]}
                    entry["tokens_per_s"] = tps
                    self.log.write(entry)
                    bar.set_postfix(loss=f"{entry['loss']:.3f}", tok_s=f"{tps:,.0f}")
                if st.step % tc.eval_every == 0 or st.step == tc.max_steps:
                    self.model.eval()
                    self._validate()
                    self.train_model.train()
                if st.step % tc.ckpt_every == 0 or self.stop.requested or st.step == tc.max_steps:
                    self._save()
                self.stop.check()
                if st.step >= tc.max_steps or st.stopped_early:
                    break
            else:
                st.epoch += 1
                st.batch_in_epoch = 0
        bar.close()
        if bad_step is not None:
            _raise_if_bad(bad_step, bad_loss)
        if st.last_eval_step != st.step:  # early stop/max_steps always validated; kept for safety
            self.model.eval()
            self._validate()
            self._save()
        return st
