"""PyTorch backend: the network from a checkpoint, reparameterized, on CPU, CUDA or MPS.

On CUDA it runs the encoder in float16 under autocast (the head and hand model stay float32, see
:class:`~handmesh.network.HandMeshNet`) with channels-last memory by default; ``compile=True`` wraps the network in
``torch.compile``; ``cuda_graphs=True`` captures one CUDA graph per batch size and replays it (no Python or kernel
launch overhead; inputs are copied into a static buffer).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import torch

from handmesh.artefact.describe import metadata_for
from handmesh.errors import ConfigError
from handmesh.network.outputs import OUTPUT_NAMES
from handmesh.network.predictor import check_torch_device
from handmesh.runtime.base import Runtime

__all__ = ["TorchRuntime", "check_torch_device"]


class TorchRuntime(Runtime):
    """A :class:`~handmesh.network.HandMeshNet` behind the :class:`~handmesh.runtime.Runtime` interface.

    Args:
        net: the network (moved to ``device``, put in eval mode and, with ``reparameterize``, fused in place).
        source: the checkpoint it came from (or any label).
        device: a torch device. Default: CPU.
        reparameterize: fuse the encoder's train-time branches (what inference should run). Default: True.
        half: float16 autocast for the encoder; CUDA only. Default: None (on for CUDA).
        channels_last: channels-last memory for weights and inputs. Default: None (on for CUDA).
        compile: ``torch.compile`` the network (True, or a mode such as ``"max-autotune"``). Default: False.
        cuda_graphs: capture and replay a CUDA graph per batch size; CUDA only. Default: False.
        resize: resize crops of another size instead of raising. Default: False.
    """

    backend = "torch"

    @classmethod
    def load(
        cls, source: Any, *, device: str = "auto", threads: int | None = None, origin: Any = None, **options: Any
    ) -> TorchRuntime:
        """What :func:`~handmesh.runtime.load_runtime` calls: a checkpoint, or an in-memory network (copied: the
        runtime fuses and moves its network, so the caller's, perhaps still training, is left alone)."""
        if threads is not None:
            torch.set_num_threads(int(threads))
        if isinstance(source, torch.nn.Module):
            import copy

            return cls(copy.deepcopy(source), device=check_torch_device(device), **options)
        return cls.from_checkpoint(source, device, **options)

    def __init__(
        self,
        net: torch.nn.Module,
        source: str | os.PathLike = "<network>",
        *,
        device: str | torch.device = "cpu",
        reparameterize: bool = True,
        half: bool | None = None,
        channels_last: bool | None = None,
        compile: bool | str = False,
        cuda_graphs: bool = False,
        resize: bool = False,
    ) -> None:
        dev = torch.device(device)
        net = net.float().eval()
        if reparameterize:
            net.reparameterize()
        meta = metadata_for(net, "torch")
        super().__init__(meta, source, device=str(dev), resize=resize)
        self.torch_device = dev
        self.reparameterized = bool(net.inference_mode)
        self.half = dev.type == "cuda" if half is None else bool(half)
        if self.half and dev.type != "cuda":
            raise ConfigError(
                f"half=True: float16 inference is for CUDA devices, not {dev.type!r} (CPU float16 is "
                "slower than float32)"
            )
        self.channels_last = dev.type == "cuda" if channels_last is None else bool(channels_last)
        if cuda_graphs and dev.type != "cuda":
            raise ConfigError(f"cuda_graphs=True needs a CUDA device, not {dev.type!r}")
        self.cuda_graphs = bool(cuda_graphs)
        net = net.to(dev)
        if self.channels_last:
            net = net.to(memory_format=torch.channels_last)
        self.network = net
        self.compiled = compile
        self._forward: Any = net
        if compile:
            kwargs = {"mode": compile} if isinstance(compile, str) else {}
            self._forward = torch.compile(net, **kwargs)
        self._graphs: dict[int, tuple[Any, torch.Tensor, tuple[torch.Tensor, ...]]] = {}

    @classmethod
    def from_checkpoint(
        cls,
        path: str | os.PathLike,
        device: str = "auto",
        *,
        use_ema: bool = True,
        mano_dir: str | os.PathLike | None = None,
        **options: Any,
    ) -> TorchRuntime:
        """Load a handmesh checkpoint (training or inference) with :func:`~handmesh.network.load_network`.

        Args:
            path: the checkpoint.
            device: ``"auto"`` (CUDA, then MPS, then CPU), ``"cpu"``, ``"cuda"``, ``"cuda:1"``, ``"mps"``.
            use_ema: use the EMA weights when the checkpoint has them. Default: True.
            mano_dir: where the MANO files are, for a network trained with MANO. Default: the usual search.
            **options: the constructor's keyword arguments (``half``, ``channels_last``, ``compile``, ...).
        """
        from handmesh.network import load_network

        dev = check_torch_device(device)
        net, _ = load_network(path, map_location="cpu", use_ema=use_ema, mano_dir=mano_dir)
        return cls(net, Path(path), device=dev, **options)

    def _describe_extra(self) -> str:
        bits = ["reparameterized" if self.reparameterized else "train-time"]
        if self.half:
            bits.append("fp16 autocast")
        if self.channels_last:
            bits.append("channels_last")
        if self.compiled:
            bits.append("torch.compile")
        if self.cuda_graphs:
            bits.append("CUDA graphs")
        if self.torch_device.type == "cpu":
            bits.append(f"{torch.get_num_threads()} threads")
        return f" ({', '.join(bits)})"

    def _call_network(self, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
        with torch.autocast(self.torch_device.type, dtype=torch.float16, enabled=self.half):
            out = self._forward(x)
        return tuple(getattr(out, k) for k in OUTPUT_NAMES)

    @torch.inference_mode()
    def _run(self, x: Any) -> dict[str, Any]:
        t = x if isinstance(x, torch.Tensor) else torch.from_numpy(self._as_numpy(x))
        t = t.to(self.torch_device, torch.float32, non_blocking=True)
        if self.channels_last:
            t = t.contiguous(memory_format=torch.channels_last)
        outs = self._replay(t) if self.cuda_graphs else self._call_network(t)
        return {k: v.float().cpu().numpy() for k, v in zip(OUTPUT_NAMES, outs)}

    def _replay(self, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """Run through a CUDA graph captured for this batch size (captured on first use)."""
        B = int(x.shape[0])
        if B not in self._graphs:
            static_in = torch.zeros_like(x)
            static_in.copy_(x)
            stream = torch.cuda.Stream(self.torch_device)
            stream.wait_stream(torch.cuda.current_stream(self.torch_device))
            with torch.cuda.stream(stream):  # warm-up off the default stream, as capture requires
                for _ in range(3):
                    self._call_network(static_in)
            torch.cuda.current_stream(self.torch_device).wait_stream(stream)
            graph = torch.cuda.CUDAGraph()
            with torch.cuda.graph(graph):
                static_out = self._call_network(static_in)
            self._graphs[B] = (graph, static_in, static_out)
        graph, static_in, static_out = self._graphs[B]
        static_in.copy_(x)
        graph.replay()
        return tuple(o.clone() for o in static_out)
