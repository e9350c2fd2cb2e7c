"""The validation ROC AUC under DistributedDataParallel, where the unpadded validation shards differ in size: two gloo
processes on the CPU, the metric equal to scikit-learn's over every observation once."""

import numpy as np
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from sklearn.metrics import roc_auc_score

from msmonai.engine import ValidationAUC

SCORES = np.linspace(0.05, 0.95, 11)
LABELS = np.array([0, 1, 0, 0, 1, 1, 0, 1, 1, 0, 1])
SHARDS = (slice(0, 6), slice(6, 11))  # 6 and 5 observations, as DistributedSampler(even_divisible=False) gives


def _rank(rank: int, store: str, results) -> None:
    dist.init_process_group("gloo", init_method=f"file://{store}", rank=rank, world_size=2)
    try:
        metric = ValidationAUC()
        metric.reset()
        shard = SHARDS[rank]
        metric.update((torch.tensor(SCORES[shard], dtype=torch.float32), torch.tensor(LABELS[shard])))
        results[rank] = metric.compute()
    finally:
        dist.destroy_process_group()


def test_uneven_shards_are_gathered_whole(tmp_path):
    results = mp.Manager().dict()
    mp.spawn(_rank, args=(str(tmp_path / "store"), results), nprocs=2, join=True)
    expected = roc_auc_score(LABELS, SCORES)
    assert results[0] == results[1] and abs(results[0] - expected) < 1e-6
