"""Process-group setup for one run: a single process on CPU, DDP across the GPUs of one job.

The world is read from torchrun's variables (RANK, WORLD_SIZE, LOCAL_RANK) or, inside a submitit
Slurm job with several tasks, from submitit's TorchDistributedEnvironment (one task per GPU).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

import torch
import torch.distributed as torch_dist


@dataclass
class DistInfo:
    rank: int = 0
    local_rank: int = 0
    world_size: int = 1
    device: torch.device = field(default_factory=lambda: torch.device("cpu"))

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    def broadcast_object(self, obj: Any) -> Any:
        """Rank 0's ``obj`` on every rank (identity in a single process)."""
        if self.world_size == 1:
            return obj
        box = [obj]
        torch_dist.broadcast_object_list(box, src=0)
        return box[0]

    def barrier(self) -> None:
        if self.world_size > 1:
            torch_dist.barrier()


def global_rank() -> int:
    """This process's rank in a multi-process job (torchrun's RANK, else Slurm's SLURM_PROCID), 0 otherwise."""
    for var in ("RANK", "SLURM_PROCID"):
        if var in os.environ:
            return int(os.environ[var])
    return 0


def pick_device(requested: str, local_rank: int = 0) -> torch.device:
    """``auto`` -> the job's GPU when CUDA is available, else the CPU."""
    if requested == "cpu" or (requested == "auto" and not torch.cuda.is_available()):
        return torch.device("cpu")
    if not torch.cuda.is_available():
        raise RuntimeError("train.device=cuda but CUDA is not available on this machine")
    index = local_rank % torch.cuda.device_count()  # more processes than GPUs: they share (tests, debugging)
    torch.cuda.set_device(index)
    return torch.device("cuda", index)


def backend_for(device: torch.device, local_world_size: int) -> str:
    """nccl when every local process has a GPU of its own; gloo on the CPU or when processes share a GPU
    (nccl refuses two ranks on one device; gloo handles CUDA tensors). ``VX2T_DIST_BACKEND`` overrides."""
    forced = os.environ.get("VX2T_DIST_BACKEND")
    if forced:
        return forced
    if device.type != "cuda" or local_world_size > torch.cuda.device_count():
        return "gloo"
    return "nccl"


def init_distributed(requested_device: str) -> DistInfo:
    """Initialise the process group when the job has several processes; else a single process."""
    env = os.environ
    if "WORLD_SIZE" not in env and int(env.get("SLURM_NTASKS", "1")) > 1 and "SUBMITIT_FOLDER" in env:
        import submitit

        submitit.helpers.TorchDistributedEnvironment().export(set_cuda_visible_devices=False)
    world = int(env.get("WORLD_SIZE", "1"))
    if world <= 1:
        return DistInfo(device=pick_device(requested_device))
    rank, local_rank = int(env["RANK"]), int(env.get("LOCAL_RANK", "0"))
    device = pick_device(requested_device, local_rank)
    if not torch_dist.is_initialized():
        local_world = int(env.get("LOCAL_WORLD_SIZE", "1"))  # set by torchrun and by submitit's export
        torch_dist.init_process_group(backend=backend_for(device, local_world))
    return DistInfo(rank=rank, local_rank=local_rank, world_size=world, device=device)


def shutdown_distributed() -> None:
    """Tear the process group down (no-op in a single process)."""
    if torch_dist.is_available() and torch_dist.is_initialized():
        torch_dist.destroy_process_group()
