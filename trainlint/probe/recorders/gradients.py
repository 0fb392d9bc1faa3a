"""Gradient recorder: global and per-layer gradient norms every step, computed fused on device.

Why every step: exploding gradients and NaNs can appear in one step and must not be hidden
by sampling. Why it is cheap: per step only one `_foreach_norm` over all gradients, kept on
device; the norms are stacked and copied to the host once per flush, where folding parameters
into layers, the global norm and the never-had-a-gradient mask are computed for all pending
steps together (see `FLUSH_STEPS` in probe/session.py).
"""

from __future__ import annotations

import numpy as np
import torch

from trainlint.probe.recorders.host import to_host
from trainlint.probe.recorders.layers import LayerIndex


class GradientRecorder:
    def __init__(self, index: LayerIndex):
        self.index = index
        self._pending: list[list[torch.Tensor]] = []  # per step: per-parameter 0-d norms
        self._ever_nonzero = np.zeros(len(index.params), dtype=bool)
        self._zero = torch.zeros((), device=index.device)  # the norm of a missing gradient

    def after_backward(self) -> None:
        """Record this step's per-parameter gradient norms (on device, not synced).

        Why no `stack` here: on small CPU models one `stack` of a few 0-d tensors costs as much
        as the norms themselves; the 0-d tensors are stacked once per flush instead.
        """
        grads = [p.grad for p in self.index.params]
        if any(g is None for g in grads):
            present = [g for g in grads if g is not None]
            norms = iter(torch._foreach_norm(present)) if present else iter(())
            self._pending.append([next(norms) if g is not None else self._zero for g in grads])
        else:
            self._pending.append(torch._foreach_norm(grads))

    def drop_last(self) -> None:
        """Forget the latest pending step (a watched loop's step that logged no loss)."""
        if self._pending:
            self._pending.pop()

    def flush(self) -> list[list[float]]:
        """Rows `[global, layer_0, ..., layer_L-1]` for the pending steps (one host copy)."""
        if not self._pending:
            return []
        norms = self._host()
        self._pending.clear()
        self._ever_nonzero |= (norms > 0).any(0)
        total = np.sqrt(np.square(norms.astype(np.float64)).sum(1, keepdims=True))
        return np.concatenate([total, self.index.fold(norms)], axis=1).tolist()

    def _host(self) -> np.ndarray:
        """The pending norms as one (steps, params) float32 array."""
        return to_host(self._pending, len(self.index.params))

    def never_grad(self) -> list[str]:
        """Trainable parameters whose gradient was None or zero at every step so far."""
        mask = self._ever_nonzero
        if self._pending:
            mask = mask | (self._host() > 0).any(0)
        return [n for n, ok in zip(self.index.param_names, mask.tolist(), strict=True) if not ok]
