"""Values derived from a composed config that more than one layer reads (the data checks, the planted
ceilings and the model), so that none of them imports another for it."""

from __future__ import annotations

from benchmark.config.schema import TokenizerConfig


def modality_k(tok_cfg: TokenizerConfig, modality: str | None = None) -> int:
    """K of ``modality``: ``tokenizer.k_per_modality[modality]`` when listed, else ``tokenizer.k``."""
    per = tok_cfg.k_per_modality
    return int(per[modality]) if modality is not None and modality in per else int(tok_cfg.k)
