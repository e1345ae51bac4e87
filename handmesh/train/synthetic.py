"""``handmesh-train --synthetic-data N``: when the data folder does not exist, fill it with a synthetic set first.

The set is rendered with the network's hand model (so hand-parameter and vertex losses apply) by
:func:`handmesh.synth.dataset.generate_dataset`. Under ``torchrun`` rank 0 generates and the others wait for it.
"""

from __future__ import annotations

import json
import logging
import os
import time
from pathlib import Path
from typing import Any

__all__ = ["ensure_synthetic_data"]

logger = logging.getLogger(__name__)


def _complete(root: Path) -> bool:
    try:
        return bool(json.loads((root / "synth_config.json").read_text()).get("complete"))
    except (OSError, ValueError):
        return False


def ensure_synthetic_data(
    cfg: Any,
    num_train: int,
    *,
    num_eval: int | None = None,
    workers: int | None = None,
    timeout_s: float = 24 * 3600,
) -> bool:
    """Generate a synthetic set at ``cfg.data.root`` unless something is there already.

    Args:
        cfg: the run config (``data.root``, ``model.hand_model``, ``model.mano_dir``, ``model.input_size``,
            ``train.seed``).
        num_train: training annotations (one image each).
        num_eval: held-out evaluation annotations. Default: ``max(num_train // 10, 16)``.
        workers: rendering processes. Default: the CPU count, at most 8.
        timeout_s: how long other ranks wait for rank 0. Default: a day.

    Returns:
        True if this call generated (or waited for) the data, False if the folder already existed.
    """
    root = Path(cfg.data.root)
    rank = int(os.environ.get("RANK", "0"))
    if root.exists() and any(root.iterdir()) and (_complete(root) or not (root / "synth_config.json").exists()):
        return False
    if rank != 0:
        t0 = time.monotonic()
        while not _complete(root):
            if time.monotonic() - t0 > timeout_s:
                raise TimeoutError(f"waited {timeout_s:.0f} s for rank 0 to generate synthetic data in {root}")
            time.sleep(2.0)
        return True
    from handmesh.synth.dataset import SynthConfig, generate_dataset

    size = max(int(cfg.model.input_size), 128)
    synth = SynthConfig(
        num_train=int(num_train),
        num_eval=int(num_eval or max(num_train // 10, 16)),
        versions=1,
        seed=int(cfg.train.seed),
        image_size=size,
        hand_model=str(cfg.model.hand_model),
        mano_dir=cfg.model.mano_dir,
    )
    resume = (root / "synth_config.json").exists()
    logger.info(
        "generating %d synthetic training images (%d px, %s hand) in %s", num_train, size, cfg.model.hand_model, root
    )
    generate_dataset(root, synth, workers=workers or min(os.cpu_count() or 1, 8), resume=resume)
    return True
