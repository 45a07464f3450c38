"""AdamW parameter groups of a Vx2Text model, and the regularisation of its modality classifiers.

Groups: no decay on biases and norms (parameters with fewer than 2 dimensions); the modality classifiers
(``tokenizers.<m>.classifier.*``, trained by relaxed tokens) at ``lr * train.classifier_lr_mult``. Their
matrices follow ``train.classifier_regularization``:

* ``decay`` (default): AdamW's decoupled weight decay toward zero at ``train.weight_decay``, like every
  other matrix. A pretrained head shrinks under it (about 21 % over a mini run).
* ``none``: no weight decay.
* ``to_init``: the same decoupled decay at the same rate, centred on the weights the model was built with
  (the pretrained head, or its random init when there is none): before each optimizer step,
  ``p -= lr * weight_decay * (p - p0)``, exactly as AdamW does ``p -= lr * weight_decay * p``. The group
  carries ``decay_to_init`` (its rate) and no AdamW decay; :class:`DecayToInit` applies it.
"""

from __future__ import annotations

import torch

from benchmark.errors import ConfigError

CLASSIFIER_REGULARIZATION = ("decay", "none", "to_init")


def is_classifier_param(name: str) -> bool:
    """Whether a parameter name belongs to a modality classifier (the relaxed tokenizers' heads)."""
    return name.startswith("tokenizers.") and ".classifier." in name


def param_groups(
    model: torch.nn.Module,
    lr: float,
    weight_decay: float,
    classifier_mult: float,
    classifier_regularization: str = "decay",
) -> list[dict]:
    """AdamW groups: no decay on biases and norms; the modality classifiers at ``lr * classifier_mult``,
    their matrices regularised as ``classifier_regularization`` says (module docstring)."""
    if classifier_regularization not in CLASSIFIER_REGULARIZATION:
        raise ConfigError(
            "train.classifier_regularization",
            f"expected one of {', '.join(CLASSIFIER_REGULARIZATION)}, got '{classifier_regularization}'",
        )
    groups: dict[tuple[bool, bool], list[torch.nn.Parameter]] = {}
    for name, param in model.named_parameters():
        if not param.requires_grad:
            continue
        groups.setdefault((is_classifier_param(name), param.ndim >= 2), []).append(param)
    out = []
    for (cls, decay), params in sorted(groups.items()):
        group: dict = {"params": params, "lr": lr * (classifier_mult if cls else 1.0)}
        group["weight_decay"] = weight_decay if decay else 0.0
        if cls and decay and classifier_regularization != "decay":
            group["weight_decay"] = 0.0
            if classifier_regularization == "to_init":
                group["decay_to_init"] = weight_decay
        out.append(group)
    return out


def param_counts(model: torch.nn.Module) -> dict[str, int]:
    """``{"total": ..., "trainable": ...}``: the model's parameters (each shared tensor once) and those that
    train (``requires_grad``: not a frozen body, frozen classifier or discrete tokenizer's head)."""
    params = list(model.parameters())
    return {"total": sum(p.numel() for p in params), "trainable": sum(p.numel() for p in params if p.requires_grad)}


class DecayToInit:
    """``train.classifier_regularization: to_init``: decoupled decay of the marked groups toward the values
    their parameters hold when this is built (build it before a checkpoint is loaded: the anchor is the
    built model, the pretrained head, not the resumed weights)."""

    def __init__(self, optimizer: torch.optim.Optimizer) -> None:
        self.groups = [g for g in optimizer.param_groups if g.get("decay_to_init")]
        self.anchors = [[p.detach().clone() for p in g["params"]] for g in self.groups]

    def __bool__(self) -> bool:
        return bool(self.groups)

    @torch.no_grad()
    def step(self) -> None:
        """``p -= lr * rate * (p - p0)`` for every marked parameter, at its group's current learning rate."""
        for group, anchors in zip(self.groups, self.anchors):
            alpha = float(group["lr"]) * float(group["decay_to_init"])
            if alpha == 0.0:
                continue
            for p, p0 in zip(group["params"], anchors):
                p.sub_((p - p0.to(p.device)) * alpha)


__all__ = ["CLASSIFIER_REGULARIZATION", "DecayToInit", "is_classifier_param", "param_counts", "param_groups"]
