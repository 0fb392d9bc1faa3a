"""Gradient recorder: global and per-layer gradient norms every step, computed fused on device.

Why every step: exploding gradients and NaNs can appear in one step and must not be hidden
by sampling. Why it is cheap: one `_foreach_norm` over all gradients and one `index_add_`,
kept on device and copied to the host only when the probe flushes (every `sync_every` steps).
"""

from __future__ import annotations

import torch

from trainlint.probe.recorders.layers import LayerIndex


class GradientRecorder:
    def __init__(self, index: LayerIndex):
        self.index = index
        self._pending: list[torch.Tensor] = []  # per step: [global, layer_0, ..., layer_L-1]
        self._ever_nonzero = torch.zeros(len(index.params), dtype=torch.bool, device=index.owner.device)
        self._present_key: tuple[int, ...] | None = None  # which params had a grad last time
        self._present_index: torch.Tensor | None = None

    def after_backward(self) -> torch.Tensor:
        """Record this step's norms; returns the global norm as a 0-d tensor (not synced)."""
        params = self.index.params
        grads = [p.grad for p in params]
        if any(g is None for g in grads):
            present = tuple(i for i, g in enumerate(grads) if g is not None)
            norms = torch.zeros(len(params), device=self.index.owner.device)
            if present:
                got = torch.stack(torch._foreach_norm([grads[i] for i in present])).float()
                norms[self._index_of(present)] = got
        else:
            norms = torch.stack(torch._foreach_norm(grads)).float()
        self._ever_nonzero |= norms > 0
        layer = self.index.fold(norms)
        total = norms.square().sum().sqrt()
        self._pending.append(torch.cat([total.reshape(1), layer]))
        return total

    def _index_of(self, present: tuple[int, ...]) -> torch.Tensor:
        """The device index tensor of `present`, rebuilt only when the set changes.

        Why cached: building it copies from the host, which on CUDA waits for the device; an
        unused layer has no gradient at every step, so the set rarely changes.
        """
        if present != self._present_key:
            self._present_key = present
            self._present_index = torch.tensor(present, device=self.index.owner.device)
        return self._present_index

    def flush(self) -> list[list[float]]:
        """Host copy of the pending rows (one sync), then forget them."""
        if not self._pending:
            return []
        rows = torch.stack(self._pending).cpu().tolist()
        self._pending.clear()
        return rows

    def never_grad(self) -> list[str]:
        mask = self._ever_nonzero.cpu().tolist()
        return [n for n, ok in zip(self.index.param_names, mask, strict=True) if not ok]
