"""Input recorder: dataset-wide input/target statistics and first-batch facts at step 0."""

from __future__ import annotations

import contextlib
import math
import time
import warnings

import torch
from torch.utils.data import DataLoader

from trainlint.components.base import DataBundle
from trainlint.probe.adapters import (
    AdapterError,
    Batch,
    Reader,
    is_token_level,
    split_batch,
    token_layout,
)
from trainlint.probe.record import DataFacts, FirstBatch

# A user dataset may be slow or huge: scan at most this many samples, for at most this long.
MAX_SCAN_SAMPLES = 20_000
MAX_SCAN_SECONDS = 1.0


def _feature_matrix(x: torch.Tensor, kind: str) -> torch.Tensor | None:
    """(samples, features) view for statistics: flat features, image channels, sequence features."""
    if not torch.is_floating_point(x):
        return None
    if kind == "image" and x.dim() >= 3:
        return x.transpose(0, 1).reshape(x.shape[1], -1).T
    if kind == "sequence" and x.dim() == 3:
        return x.reshape(-1, x.shape[-1])
    return x.reshape(x.shape[0], -1)


def scan_data(bundle: DataBundle, target_key: str | None = None) -> DataFacts:
    """Statistics of the training inputs and targets (whole split for built-ins, a sample otherwise)."""
    facts = DataFacts(
        n_train=len(bundle.train), n_val=len(bundle.val) if bundle.val is not None else 0,
        input_kind=bundle.info.input_kind, input_shape=list(bundle.info.input_shape),
        is_builtin=bundle.builtin,
    )
    if bundle.tensors is not None:
        x, y = bundle.tensors[0], bundle.tensors[1]
    else:
        x, y = _sample(bundle.train, target_key)
    return sample_facts(facts, x, y, bundle.info.task)


def sample_facts(facts: DataFacts, x: torch.Tensor | None, y: torch.Tensor | None, task: str) -> DataFacts:
    """`facts` filled with the statistics of a sample of inputs `x` and targets `y` (the whole
    split, a scan of a user's dataset, or the batches a watched loop logged)."""
    if x is None:
        return facts
    facts.samples_scanned = int(x.shape[0])
    feats = _feature_matrix(x, facts.input_kind)
    if feats is not None:
        finite = torch.isfinite(feats)
        facts.n_nonfinite_inputs = int((~finite).sum())
        clean = torch.where(finite, feats, torch.zeros((), dtype=feats.dtype)).double()
        std = clean.std(0) if clean.shape[0] > 1 else torch.zeros(clean.shape[1], dtype=clean.dtype)
        varying = std > 1e-12
        facts.n_features = int(std.numel())
        facts.n_constant_features = int((~varying).sum())
        facts.input_abs_max = float(clean.abs().max()) if clean.numel() else None
        if varying.any():
            mean = clean.mean(0)
            facts.feature_std_min = float(std[varying].min())
            facts.feature_std_max = float(std[varying].max())
            facts.feature_mean_abs_max = float(mean[varying].abs().max())
            rms = (mean.square() + std.square()).sqrt()[varying]
            facts.feature_rms_max, facts.feature_rms_min = float(rms.max()), float(rms.min())
            facts.feature_rms_argmax = int(varying.nonzero()[int(rms.argmax()), 0])
    if y is not None and y.numel():
        _target_facts(facts, y, task)
    return facts


def _target_facts(facts: DataFacts, y: torch.Tensor, task: str) -> None:
    """Range, whole-numberness, distinct values and (for classification) class counts of targets."""
    # Float targets are labels only one per sample (a multi-label 0/1 matrix is not a class count).
    countable = not torch.is_floating_point(y) or y[0].numel() == 1
    if task == "regression" and y.dim() >= 1 and len(y):
        rows = y.double().reshape(len(y), -1)
        rows = torch.where(torch.isfinite(rows), rows, torch.nan)
        mean = torch.nanmean(rows, 0)
        std = torch.nanmean((rows - mean) ** 2, 0).sqrt()
        facts.target_mean, facts.target_std = mean.tolist(), std.tolist()
        facts.target_rms = (mean ** 2 + std ** 2).sqrt().tolist()
    if torch.is_floating_point(y):
        finite = torch.isfinite(y)
        facts.n_nonfinite_targets = int((~finite).sum())
        y = y[finite]
    if not y.numel():
        return
    facts.target_min, facts.target_max = float(y.min()), float(y.max())
    facts.target_is_integer_valued = not torch.is_floating_point(y) or bool((y == y.round()).all())
    values, counts = torch.unique(y.reshape(-1), return_counts=True)
    facts.n_target_values = int(values.numel())
    if task in ("multiclass", "binary") and countable and facts.target_is_integer_valued \
            and facts.n_target_values <= 1000:
        facts.class_counts = {int(v): int(n) for v, n in zip(values.tolist(), counts.tolist(), strict=True)}


def _sample(dataset, target_key: str | None = None) -> tuple[torch.Tensor | None, torch.Tensor | None]:
    """Collate up to MAX_SCAN_SAMPLES of a user dataset (its first input and its target), stopping
    after MAX_SCAN_SECONDS.

    Exceptions from the user's `__getitem__` propagate: the probe reports them as a crash.
    """
    xs, ys, n, start = [], [], 0, time.perf_counter()
    # Its own generator: a loader's iterator draws a seed, which must not come from the global RNG
    # that the user's dropout (and a built-in twin's) draws from next.
    for raw in DataLoader(dataset, batch_size=256, shuffle=False, generator=torch.Generator()):
        try:
            batch = split_batch(raw, target_key)
        except AdapterError:
            return None, None
        xb, yb = batch.primary, batch.target
        if not isinstance(xb, torch.Tensor) or not isinstance(yb, torch.Tensor):
            return None, None
        xs.append(xb)
        ys.append(yb)
        n += xb.shape[0]
        if n >= MAX_SCAN_SAMPLES or time.perf_counter() - start > MAX_SCAN_SECONDS:
            break
    if not xs:
        return None, None
    return torch.cat(xs), torch.cat(ys)


def _dtype(t) -> str:
    return str(t.dtype).replace("torch.", "") if isinstance(t, torch.Tensor) else ""


def _chance_loss(loss_fn, reader: Reader, out: torch.Tensor, y, loss_class: str, num_classes: int | None) -> float | None:
    """The loss of an uninformative output; for the model's own loss, ln(classes) when it classifies."""
    if reader.model_computes_loss:
        classifies = isinstance(y, torch.Tensor) and not torch.is_floating_point(y) and out.dim() >= 2
        return math.log(out.shape[-1]) if classifies and out.shape[-1] > 1 else None
    chance = chance_output(out, loss_class, num_classes)
    if reader.loss_class:
        return float(loss_fn(*token_layout(chance, y, reader.loss_class)))
    return float(loss_fn(chance, y))


def chance_output(out: torch.Tensor, loss_class: str, num_classes: int | None) -> torch.Tensor:
    """An uninformative prediction of the right form for the loss: uniform logits/probabilities."""
    if loss_class == "NLLLoss":
        classes = num_classes or out.shape[-1 if out.dim() == 3 else min(1, out.dim() - 1)]
        return torch.full_like(out, -math.log(classes))
    if loss_class == "BCELoss":
        return torch.full_like(out, 0.5)
    return torch.zeros_like(out)


def output_sensitivity(out: torch.Tensor) -> float:
    """Between-sample spread of the outputs relative to their scale (≈0: input ignored)."""
    out = out.detach().float().reshape(out.shape[0], -1)
    if out.shape[0] < 2:
        return math.nan
    spread = out.std(0).mean()
    scale = out.abs().mean() + 1e-12
    return float(spread / scale)


def first_batch_facts(model, loss_fn, batch: Batch, reader: Reader, loss_class: str,
                      num_classes: int | None) -> FirstBatch:
    """Shapes, dtypes, output form, chance-level loss and input sensitivity on the first batch."""
    x, y = batch.primary, batch.target
    facts = FirstBatch(
        input_shape=list(x.shape) if x is not None else [], input_dtype=_dtype(x),
        target_shape=list(y.shape) if isinstance(y, torch.Tensor) else [], target_dtype=_dtype(y),
    )
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad(), warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            _, out = reader.forward(model, batch)
            scores, target = reader.align(out, batch)  # as the loss and the metric pair them
            if isinstance(target, torch.Tensor):
                facts.target_shape = list(target.shape)
            facts.output_shape = list(scores.shape)
            output_facts(facts, out, y)
            # A loss that raises here raises in the training step too, which reports it.
            with contextlib.suppress(Exception):
                facts.expected_initial_loss = _chance_loss(loss_fn, reader, scores, target, loss_class,
                                                           num_classes)
        facts.loss_warnings = sorted({str(w.message) for w in caught})
    finally:
        model.train(was_training)
    return facts


def output_facts(facts: FirstBatch, out: torch.Tensor, y) -> FirstBatch:
    """The output's dtype, range, form (probabilities? log-probabilities?) and input sensitivity."""
    facts.output_dtype = _dtype(out)
    o = out.detach().float()
    facts.output_min, facts.output_max = float(o.min()), float(o.max())
    dim = -1 if is_token_level(out, y) else 1  # where the class scores are
    if o.dim() >= 2 and o.shape[dim] > 1:
        facts.output_rows_sum_to_one = bool((o >= 0).all() and torch.allclose(
            o.sum(dim), torch.ones(1, device=o.device), atol=1e-3))
        facts.output_is_log_prob = bool((o <= 1e-6).all() and torch.allclose(
            o.logsumexp(dim), torch.zeros(1, device=o.device), atol=1e-3))
    facts.output_sensitivity = output_sensitivity(out)
    return facts
