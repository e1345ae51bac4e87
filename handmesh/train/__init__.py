"""Training the hand mesh network: ``train(cfg)`` (the body of ``handmesh-train``).

Where things are:
    trainer.py        train(), the loop, TrainResult, TrainHooks, TrainingDivergedError
    data.py           deterministic resumable data order (EpochSampler, SeededDataset), data_hand_model
    optim.py          AdamW parameter groups, warm-up + cosine schedule
    ema.py            ModelEma
    checkpointing.py  training checkpoints (write atomically, read to resume)
    state.py          RNG states as plain data
    distributed.py    torchrun process groups (NCCL / gloo)
    validate.py       PA-MPJPE / PA-MPVPE validation and mesh pictures
    run_log.py        CSV + TensorBoard logs, the training-curve PNG
    synthetic.py      --synthetic-data: generate a small synthetic set when the data folder is missing
    launch.py         launch_local(cfg, n): n local processes without torchrun (torch.multiprocessing)
"""

from handmesh.train.checkpointing import TrainerCounters, read_training_checkpoint
from handmesh.train.data import EpochSampler, SeededDataset, data_hand_model
from handmesh.train.ema import ModelEma
from handmesh.train.optim import build_optimizer, build_scheduler, lr_factor
from handmesh.train.run_log import plot_training_curve, read_csv_log
from handmesh.train.trainer import (
    BEST_CHECKPOINT,
    LAST_CHECKPOINT,
    TrainHooks,
    TrainingDivergedError,
    TrainResult,
    train,
)

__all__ = [
    "BEST_CHECKPOINT",
    "EpochSampler",
    "LAST_CHECKPOINT",
    "ModelEma",
    "SeededDataset",
    "TrainHooks",
    "TrainResult",
    "TrainerCounters",
    "TrainingDivergedError",
    "build_optimizer",
    "build_scheduler",
    "data_hand_model",
    "lr_factor",
    "plot_training_curve",
    "read_csv_log",
    "read_training_checkpoint",
    "train",
]
