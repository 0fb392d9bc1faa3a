"""Update recorder: per-layer parameter norm and update ratio ‖Δw‖/‖w‖ on a sampled cadence.

Why sampled: the ratio needs a copy of the weights before the optimizer step; copying every
step would double the memory traffic of small models. Every `stats_every` steps is enough to
see a ratio that sits orders of magnitude away from ~1e-3.

Why the folding waits for the flush: a sampled step keeps only its per-parameter norms (‖w‖
then ‖Δw‖, 0-d tensors on device); stacking, folding them into layers and dividing happen
once per flush for every pending sample together, and the weights are copied into a buffer
kept between samples, so a sampled step costs four foreach ops and no allocation.
"""

from __future__ import annotations

import numpy as np
import torch

from trainlint.probe.recorders.host import to_host
from trainlint.probe.recorders.layers import LayerIndex


class UpdateRecorder:
    def __init__(self, index: LayerIndex):
        self.index = index
        self._snapshot: list[torch.Tensor] | None = None  # reused: one copy of the weights, made once
        self._pending: list[tuple[int, list[torch.Tensor]]] = []  # (step, 0-d ‖w_p‖..., ‖Δw_p‖...)

    def before_step(self) -> None:
        params = [p.detach() for p in self.index.params]
        if self._snapshot is None:
            self._snapshot = [p.clone() for p in params]
        else:
            torch._foreach_copy_(self._snapshot, params)

    def after_step(self, step: int) -> None:
        """The update since `before_step` (which the loop always calls first on a sampled step)."""
        if not self._snapshot:  # no trainable parameter
            return
        with torch.no_grad():
            before = torch._foreach_norm(self._snapshot)
            torch._foreach_sub_(self._snapshot, [p.detach() for p in self.index.params])  # now -Δw
            norms = before + torch._foreach_norm(self._snapshot)
        self._pending.append((step, norms))

    def flush(self) -> list[tuple[int, list[float], list[float]]]:
        """(step, param_norms, update_ratios) rows since the last flush."""
        if not self._pending:
            return []
        steps = [s for s, _ in self._pending]
        n_params, n_layers = len(self.index.params), len(self.index.layers)
        norms = to_host([row for _, row in self._pending], 2 * n_params)
        self._pending.clear()
        layers = self.index.fold(norms.reshape(len(steps), 2, n_params))
        w, d = layers[:, 0], layers[:, 1]
        with np.errstate(divide="ignore", invalid="ignore"):
            rows = np.concatenate([w, d / np.maximum(w, 1e-12)], axis=1).tolist()
        return [(s, r[:n_layers], r[n_layers:]) for s, r in zip(steps, rows, strict=True)]
