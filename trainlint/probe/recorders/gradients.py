"""Gradient recorder: global and per-layer gradient norms every step, computed fused on device.

Why every step: exploding gradients and NaNs can appear in one step and must not be hidden
by sampling. Why it is cheap: per step only one `_foreach_norm` over all gradients and one
`stack`, kept on device; folding parameters into layers, the global norm and the
never-had-a-gradient mask are computed once per flush for all pending steps together, and
copied to the host then (every `SYNC_EVERY` steps).
"""

from __future__ import annotations

import torch

from trainlint.probe.recorders.layers import LayerIndex


class GradientRecorder:
    def __init__(self, index: LayerIndex):
        self.index = index
        self._pending: list[list[torch.Tensor]] = []  # per step: per-parameter 0-d norms
        self._ever_nonzero = torch.zeros(len(index.params), dtype=torch.bool, device=index.owner.device)
        self._zero = torch.zeros((), device=index.owner.device)  # the norm of a missing gradient

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

    def flush(self) -> list[list[float]]:
        """Rows `[global, layer_0, ..., layer_L-1]` for the pending steps (one host copy)."""
        if not self._pending:
            return []
        norms = self._stacked()
        self._pending.clear()
        self._ever_nonzero |= (norms > 0).any(0)
        squares = norms.square()
        layers = torch.zeros(norms.shape[0], len(self.index.layers), dtype=squares.dtype, device=squares.device)
        layers.index_add_(1, self.index.owner, squares)
        rows = torch.cat([squares.sum(1, keepdim=True), layers], dim=1).sqrt_()
        return rows.cpu().tolist()

    def _stacked(self) -> torch.Tensor:
        """The pending norms as one (steps, params) float tensor: a single `stack`."""
        flat = [n.float() for row in self._pending for n in row]
        if not flat:  # no trainable parameter at all
            return torch.zeros(len(self._pending), 0, device=self._zero.device)
        return torch.stack(flat).view(len(self._pending), len(self.index.params))

    def never_grad(self) -> list[str]:
        """Trainable parameters whose gradient was None or zero at every step so far."""
        mask = self._ever_nonzero
        if self._pending:
            mask = mask | (self._stacked() > 0).any(0)
        mask = mask.cpu().tolist()
        return [n for n, ok in zip(self.index.param_names, mask, strict=True) if not ok]
