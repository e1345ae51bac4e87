"""Two CPU processes (gloo) give the same weights as one process that averages the gradients of the same two
per-rank batches, with BatchNorm statistics per rank in both (DDP keeps rank 0's running statistics)."""

from __future__ import annotations

import numpy as np
import torch
from torch import nn
from torch.utils.data import default_collate

from handmesh.datasets import build_freihand_dataset
from handmesh.losses import build_loss
from handmesh.network import build_network
from handmesh.train import EpochSampler, SeededDataset, build_optimizer, build_scheduler
from handmesh.train.launch import launch_local

STEPS = 3


def _reference(cfg) -> tuple[dict[str, torch.Tensor], dict[str, torch.Tensor]]:
    """One process, the same two batches per step, gradients averaged by hand: (initial, final) state dicts."""
    torch.set_num_threads(cfg.train.num_threads)
    torch.manual_seed(cfg.train.seed)
    np.random.seed(cfg.train.seed)
    train_set = build_freihand_dataset(cfg.data, "train", cfg.model.input_size)
    net = build_network(cfg.model)
    initial = {k: v.clone() for k, v in net.state_dict().items()}
    loss_fn = build_loss(cfg.loss, net.hand_model, cfg.model.input_size)
    optimizer = build_optimizer(net, cfg.optim)
    scheduler = build_scheduler(optimizer, STEPS, cfg.optim.warmup_steps, cfg.optim.min_lr_ratio)
    samplers = [
        EpochSampler(len(train_set), cfg.data.batch_size, seed=cfg.train.seed, rank=r, world_size=2) for r in (0, 1)
    ]
    data = SeededDataset(train_set, cfg.train.seed)
    params = [p for p in net.parameters() if p.requires_grad]
    bs, bpe = cfg.data.batch_size, samplers[0].batches_per_epoch
    net.train()
    for step in range(STEPS):
        epoch, b = divmod(step, bpe)
        grads = []
        for rank in (0, 1):
            items = samplers[rank].epoch_items(epoch)[b * bs : (b + 1) * bs]
            batch = default_collate([data[(epoch, int(i))] for i in items])
            stats = {k: v.clone() for k, v in net.state_dict().items() if "running_" in k or "num_batches" in k}
            optimizer.zero_grad(set_to_none=True)
            loss_fn(net(batch["image"]), batch).total.backward()
            grads.append([p.grad.clone() for p in params])
            if rank == 1:  # DDP broadcasts rank 0's buffers: rank 1's statistics never survive a step
                net.load_state_dict(stats, strict=False)
        for p, g0, g1 in zip(params, *grads, strict=True):
            p.grad = (g0 + g1) / 2
        nn.utils.clip_grad_norm_(params, cfg.optim.clip_grad)
        optimizer.step()
        scheduler.step()
    return initial, net.state_dict()


def test_two_gloo_processes_match_gradient_averaging(make_config) -> None:
    cfg = make_config(
        f"optim.max_steps={STEPS}",
        "train.num_threads=1",
        "data.augment.enabled=true",
        "data.val_fraction=0",
        "optim.clip_grad=1.0",
    )
    launch_local(cfg, nprocs=2)
    ddp = torch.load(f"{cfg.train.output_dir}/last.pt", weights_only=True)
    assert ddp["trainer"]["world_size"] == 2 and ddp["trainer"]["step"] == STEPS
    initial, ref = _reference(cfg)
    assert ddp["model"].keys() == ref.keys()
    for k, v in ref.items():
        # Halving is exact in floating point, so DDP's g0/2 + g1/2 equals (g0 + g1)/2: expect (near) identity.
        torch.testing.assert_close(ddp["model"][k], v, rtol=1e-6, atol=1e-8, msg=lambda m, k=k: f"{k}: {m}")
    moved = [k for k in ref if ref[k].is_floating_point() and not torch.equal(ref[k], initial[k])]
    assert any(k.startswith("head.") for k in moved) and any(k.startswith("backbone.") for k in moved)
    assert any("running_mean" in k for k in moved)  # BatchNorm statistics were updated (and compared)
