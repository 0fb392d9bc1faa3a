"""Update recorder: per-layer parameter norm and update ratio ‖Δw‖/‖w‖ on a sampled cadence.

Why sampled: the ratio needs a copy of the weights before the optimizer step; copying every
step would double the memory traffic of small models. Every `stats_every` steps is enough to
see a ratio that sits orders of magnitude away from ~1e-3.
"""

from __future__ import annotations

import torch

from trainlint.probe.recorders.layers import LayerIndex


class UpdateRecorder:
    def __init__(self, index: LayerIndex):
        self.index = index
        self._before: list[torch.Tensor] | None = None
        self._pending: list[tuple[int, torch.Tensor]] = []  # (step, [param_norm_L..., ratio_L...])

    def before_step(self) -> None:
        with torch.no_grad():
            self._before = [p.detach().clone() for p in self.index.params]

    def after_step(self, step: int) -> None:
        if self._before is None:
            return
        with torch.no_grad():
            params = [p.detach() for p in self.index.params]
            delta = torch._foreach_sub(params, self._before)
            d = self.index.fold(torch.stack(torch._foreach_norm(delta)).float())
            w = self.index.fold(torch.stack(torch._foreach_norm(self._before)).float())
            ratio = d / w.clamp_min(1e-12)
        self._before = None
        self._pending.append((step, torch.cat([w, ratio])))

    def flush(self) -> list[tuple[int, list[float], list[float]]]:
        """(step, param_norms, update_ratios) rows since the last flush."""
        if not self._pending:
            return []
        steps = [s for s, _ in self._pending]
        rows = torch.stack([t for _, t in self._pending]).cpu().tolist()
        self._pending.clear()
        n = len(self.index.layers)
        return [(s, r[:n], r[n:]) for s, r in zip(steps, rows, strict=True)]
