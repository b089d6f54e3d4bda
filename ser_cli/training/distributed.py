"""Training on several GPUs or nodes with the standard launcher (``torchrun``).

``torchrun --nproc_per_node N -m ser_cli train ...`` starts N copies of the same command with
``WORLD_SIZE``, ``RANK`` and ``LOCAL_RANK`` set. :func:`setup` joins them into one process group
(NCCL on CUDA, gloo on CPU) and the trainer then runs DistributedDataParallel: every rank sees
the same shuffled epoch order and takes its own shard of it, gradients are averaged, metrics
are reduced, and only rank 0 writes checkpoints, history and progress. Without ``WORLD_SIZE``
(or with 1) everything here is a no-op and training is the plain single-process loop.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np

from ser_cli.errors import ConfigError

RANK_SEED_STRIDE = 1_000_003  # torch seed offset per rank: dropout differs between ranks


@dataclass(frozen=True)
class Dist:
    """This process's place in the job."""

    world: int = 1  # processes in the job
    rank: int = 0  # this process, 0 .. world-1; rank 0 writes the outputs
    local_rank: int = 0  # this process on its node: which GPU it drives

    @property
    def active(self) -> bool:
        return self.world > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    def shard(self, order: np.ndarray) -> np.ndarray:
        """This rank's share of an epoch order that every rank computed alike: wrapped to a
        multiple of ``world`` (as torch's DistributedSampler does) so all ranks take the same
        number of steps, then every ``world``-th item from ``rank``."""
        if not self.active:
            return order
        total = -(-len(order) // self.world) * self.world
        padded = np.resize(order, total)  # repeats from the start
        return padded[self.rank :: self.world]

    def rank_rng(self, rng: np.random.Generator, *seed: int) -> np.random.Generator:
        """A per-rank generator for augmentation and crops (``rng`` itself on one process)."""
        return rng if not self.active else np.random.default_rng([*seed, self.rank])

    def torch_seed(self, seed: int) -> int:
        return seed + RANK_SEED_STRIDE * self.rank

    def wrap(self, model, device: str):
        """``model`` in DistributedDataParallel when distributed, else ``model`` itself."""
        if not self.active:
            return model
        from torch.nn.parallel import DistributedDataParallel

        ids = [self.local_rank] if device.startswith("cuda") else None
        return DistributedDataParallel(model, device_ids=ids)

    def mean(self, value: float, weight: float = 1.0) -> float:
        """The ``weight``-weighted mean of ``value`` over all ranks."""
        if not self.active:
            return value
        import torch
        import torch.distributed as dist

        both = torch.tensor([value * weight, weight], dtype=torch.float64, device=_device())
        dist.all_reduce(both)
        return float(both[0] / max(float(both[1]), 1e-12))

    def sync_buffers(self, model) -> None:
        """Copy rank 0's buffers (batch-norm running statistics) to every rank: each rank
        updated its own in the last training step, and evaluation must see one model."""
        if not self.active:
            return
        import torch.distributed as dist

        for buffer in model.buffers():
            dist.broadcast(buffer.data, src=0)

    def barrier(self) -> None:
        if self.active:
            import torch.distributed as dist

            dist.barrier()


def _device() -> str:
    import torch
    import torch.distributed as dist

    return "cuda" if dist.get_backend() == "nccl" and torch.cuda.is_available() else "cpu"


def setup(device: str) -> Dist:
    """Join the process group torchrun describes in the environment (once per process)."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return Dist()
    import torch
    import torch.distributed as dist

    rank = int(os.environ.get("RANK", "0"))
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    if device == "cuda":
        if local_rank >= torch.cuda.device_count():
            raise ConfigError(
                f"LOCAL_RANK {local_rank} but only {torch.cuda.device_count()} GPU(s) here; "
                "give torchrun --nproc_per_node at most the number of GPUs per node."
            )
        torch.cuda.set_device(local_rank)  # "cuda" now means this rank's GPU
    elif device != "cpu":
        raise ConfigError(f"distributed training runs on cuda or cpu, not '{device}'.")
    if not dist.is_initialized():
        dist.init_process_group(backend="nccl" if device == "cuda" else "gloo")
    return Dist(world=world, rank=rank, local_rank=local_rank)


def prefetch_features(rows: list[dict], feature_cfg, cache_root, ctx: Dist, on_progress=None):
    """Fill the shared feature cache together: each rank computes its shard of ``rows``, then
    all wait, so every rank's load_clips afterwards only reads. A no-op on one process."""
    if not ctx.active:
        return
    from ser_cli.features.extract import FeatureCache

    cache = FeatureCache(cache_root, feature_cfg)
    mine = rows[ctx.rank :: ctx.world]
    for done, row in enumerate(mine, start=1):
        cache.get(row["path"])
        if on_progress:
            on_progress(done, len(mine), "features")
    ctx.barrier()


def is_main_process() -> bool:
    """True outside torchrun and on rank 0: the files of a run are rank 0's to write."""
    import torch.distributed as dist

    return not (dist.is_available() and dist.is_initialized()) or dist.get_rank() == 0
