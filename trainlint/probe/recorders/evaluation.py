"""Evaluation recorder: validation loss and a loss-independent metric every `eval_every` steps.

The same number of training samples is evaluated the same way (eval mode, no grad), so the
train/validation gap compares like with like when judging overfitting.
"""

from __future__ import annotations

import math

import torch
from torch.utils.data import DataLoader, Subset

from trainlint.probe.adapters import IGNORE_INDEX, Reader, is_token_level
from trainlint.probe.record import DataFacts
from trainlint.probe.recorders.inputs import output_sensitivity

MAX_EVAL_SAMPLES = 2048


def metric_for(task: str) -> tuple[str, bool]:
    """(metric name, higher is better) for a task."""
    return ("mae", False) if task == "regression" else ("accuracy", True)


def batch_metric_sum(out: torch.Tensor, y: torch.Tensor, task: str, loss_class: str) -> float:
    """Sum over the batch of the per-sample metric (correct predictions, or absolute error).

    Token-level outputs (see `adapters.is_token_level`) count one prediction per token whose
    target is not `IGNORE_INDEX`; `count` says how many predictions a batch holds.
    """
    if is_token_level(out, y):
        valid = y != IGNORE_INDEX
        return float(((out.argmax(-1) == y) & valid).sum())
    if task == "regression":
        if out.numel() != y.numel():
            return math.nan
        err = (out.float().reshape(y.shape) - y.float()).abs()
        return float(err.reshape(y.shape[0], -1).mean(1).sum())
    if out.dim() == 2 and out.shape[1] > 1:
        if torch.is_floating_point(y) or y.dim() != 1:
            return math.nan
        return float((out.argmax(1) == y).sum())
    threshold = 0.5 if loss_class == "BCELoss" else 0.0
    pred = out.reshape(-1) > threshold
    truth = y.reshape(-1).float() > (0.0 if loss_class == "SoftMarginLoss" else 0.5)
    if pred.numel() != truth.numel():
        return math.nan
    return float((pred == truth).sum())


def count(out: torch.Tensor, y: torch.Tensor) -> int:
    """How many predictions `batch_metric_sum` scored: tokens with a target, else samples."""
    if is_token_level(out, y):
        return int((y != IGNORE_INDEX).sum())
    return int(y.shape[0]) if y.dim() > 0 else 1


class Slices:
    """Consecutive `(x, y)` batches of two tensors: what a DataLoader over a TensorDataset yields.

    Why not a DataLoader for the built-in datasets: the loader's per-sample indexing and
    collation do the same copies in Python, and leave the caches cold for the next training
    steps (measured ~105 µs on the step after an evaluation, ~35 µs with slices).
    """

    def __init__(self, x: torch.Tensor, y: torch.Tensor, batch_size: int):
        self.x, self.y, self.batch_size = x, y, batch_size

    def __iter__(self):
        for i in range(0, len(self.x), self.batch_size):
            yield self.x[i:i + self.batch_size], self.y[i:i + self.batch_size]


class Evaluator:
    def __init__(self, model, loss_fn, val_loader, train_dataset, task: str, loss_class: str,
                 device: torch.device, seed: int, tensors: tuple | None = None, reader: Reader | None = None):
        """`tensors`: `(x_train, y_train, x_val, y_val)` of a built-in dataset, read by slicing."""
        self.model, self.loss_fn, self.task, self.loss_class = model, loss_fn, task, loss_class
        self.device, self.reader = device, reader or Reader(loss_class=loss_class)
        self.val_loader = val_loader
        n_val = len(val_loader.dataset) if val_loader is not None else 512
        k = min(len(train_dataset), n_val, MAX_EVAL_SAMPLES)
        perm = torch.randperm(len(train_dataset), generator=torch.Generator().manual_seed(seed + 1))
        batch = val_loader.batch_size if val_loader is not None else 256
        if tensors is not None:
            x_train, y_train, x_val, y_val = tensors
            chosen = perm[:k]
            self.train_loader = Slices(x_train[chosen], y_train[chosen], batch)
            if val_loader is not None:
                self.val_loader = Slices(x_val, y_val, batch)
        else:
            # Own generator: iterating must not draw from the global RNG that training's dropout uses
            # (a built-in dataset's slices draw nothing, and a user's data must train the same way).
            self.train_loader = DataLoader(Subset(train_dataset, perm[:k].tolist()), batch_size=batch,
                                           generator=torch.Generator())

    def _run(self, loader) -> tuple[float, float, float]:
        total_loss = total_metric = 0.0
        n = 0
        sensitivity = math.nan
        samples = 0
        for raw_batch in loader:
            batch = self.reader.batch(raw_batch).to(self.device)
            raw, out = self.reader.forward(self.model, batch)
            if samples == 0:
                sensitivity = output_sensitivity(out)
            scores, y = self.reader.align(out, batch)
            b = count(scores, y)  # tokens for token-level outputs: the loss is their mean
            total_loss += float(self.reader.loss(self.loss_fn, raw, out, batch)) * b
            total_metric += batch_metric_sum(scores, y, self.task, self.loss_class)
            n += b
            samples += batch.size
            if samples >= MAX_EVAL_SAMPLES:
                break
        if n == 0:
            return math.nan, math.nan, math.nan
        return total_loss / n, total_metric / n, sensitivity

    def evaluate(self) -> dict[str, float]:
        """val_loss, val_metric, train_loss, train_metric, output_sensitivity (model left in train mode)."""
        self.model.eval()
        try:
            with torch.no_grad():
                tl, tm, _ = self._run(self.train_loader)
                if self.val_loader is not None:
                    vl, vm, sens = self._run(self.val_loader)
                else:
                    vl, vm, sens = tl, tm, math.nan
        finally:
            self.model.train()
        return {"val_loss": vl, "val_metric": vm, "train_loss": tl, "train_metric": tm,
                "output_sensitivity": sens}


def scanned_chance(task: str, data: DataFacts, loader, reader: Reader) -> float | None:
    """`chance_metric` for a user's dataset: the majority class of the scanned training labels (or
    their mean, for regression) scored on the validation targets, as the evaluator reads them.

    Why: built-in datasets have their targets as tensors; a user's dataset is only known through
    its samples, so the same trivial predictor is scored by one pass over the validation targets
    (no model call; at most MAX_EVAL_SAMPLES samples, the evaluator's own cap). None when the
    scan found no labels or the targets cannot be read; the training step reports why.
    """
    if loader is None:
        return None
    if task == "regression":
        if not data.target_mean:
            return None
        mean = torch.tensor(data.target_mean, dtype=torch.float64)
    else:
        counts = {k: v for k, v in (data.class_counts or {}).items() if k != IGNORE_INDEX}
        if not counts:
            return None
        majority = max(counts, key=counts.get)
    total = n = samples = 0
    try:
        with torch.random.fork_rng(devices=[]):  # a loader's iterator draws a seed: leave training's RNG alone
            for raw in loader:
                batch = reader.batch(raw)
                y = batch.target
                if not isinstance(y, torch.Tensor) or y.dim() == 0:
                    return None
                if task == "regression":
                    rows = y.double().reshape(len(y), -1)
                    if rows.shape[1] != len(mean):
                        return None
                    total += float((rows - mean).abs().mean(1).sum())
                    n += len(rows)
                else:
                    labels = y.reshape(-1)
                    labels = (labels > 0.5).long() if torch.is_floating_point(labels) else labels
                    valid = labels != IGNORE_INDEX
                    total += int((labels[valid] == majority).sum())
                    n += int(valid.sum())
                samples += batch.size
                if samples >= MAX_EVAL_SAMPLES:
                    break
    except Exception:  # noqa: BLE001 - the user's data: the training step reports it with context
        return None
    return total / n if n else None


def chance_metric(task: str, y_train: torch.Tensor | None, y_val: torch.Tensor | None) -> float | None:
    """Metric of a trivial predictor: majority-class accuracy, or MAE of predicting the train mean."""
    if y_val is None or y_train is None or y_val.numel() == 0:
        return None
    if task == "regression":
        return float((y_val.float() - y_train.float().mean(0)).abs().mean())
    labels = y_val.reshape(-1).long() if not torch.is_floating_point(y_val) else (y_val.reshape(-1) > 0.5).long()
    train = y_train.reshape(-1).long() if not torch.is_floating_point(y_train) else (y_train.reshape(-1) > 0.5).long()
    majority = torch.bincount(train).argmax()
    return float((labels == majority).float().mean())
