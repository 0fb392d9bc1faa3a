"""RunRecord: everything a probe measured, as plain typed data (no torch), read by the rules.

Rules and analysis take a RunRecord and nothing else, so they can be tested on fabricated
histories in milliseconds. The probe fills one; `metrics.jsonl` and `report.json` are views of it.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field, fields
from typing import Any, get_type_hints


@dataclass
class LayerSeries:
    """One statistic for several named layers (or activation modules), sampled at `steps`.

    `values[i][j]` is the statistic of layer `names[j]` at `steps[i]`.
    """

    names: list[str] = field(default_factory=list)
    steps: list[int] = field(default_factory=list)
    values: list[list[float]] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.steps)

    def append(self, step: int, row: list[float]) -> None:
        self.steps.append(step)
        self.values.append(row)

    def layer(self, name: str) -> list[float]:
        """The series of one layer over the sampled steps."""
        j = self.names.index(name)
        return [row[j] for row in self.values]

    def last(self) -> dict[str, float]:
        return dict(zip(self.names, self.values[-1], strict=True)) if self.values else {}


@dataclass
class ModelFacts:
    """Structure of the model, read once before training."""

    class_name: str = ""
    n_params: int = 0
    n_trainable: int = 0
    layers: list[str] = field(default_factory=list)  # modules owning parameters, in order
    layer_types: dict[str, str] = field(default_factory=dict)
    frozen_params: list[str] = field(default_factory=list)  # requires_grad=False
    activations: dict[str, str] = field(default_factory=dict)  # module name -> class name
    last_module: str | None = None  # class name of the last leaf module registered
    is_builtin: bool = False  # one of trainlint's own models (so `model.args.*` fixes apply)
    dropout: dict[str, float] = field(default_factory=dict)  # dropout module name -> its p
    module_classes: list[str] = field(default_factory=list)  # distinct class names of every module (sorted)
    layer_params: dict[str, int] = field(default_factory=dict)  # layer (parameter-owning module) -> its weights


@dataclass
class DataFacts:
    """The dataset as a whole (train split), scanned before training."""

    n_train: int = 0
    n_val: int = 0
    input_kind: str = "tabular"
    input_shape: list[int] = field(default_factory=list)
    class_counts: dict[int, int] | None = None
    target_min: float | None = None
    target_max: float | None = None
    feature_mean_abs_max: float | None = None  # max over features of |mean|
    feature_std_min: float | None = None  # over non-constant features
    feature_std_max: float | None = None
    input_abs_max: float | None = None
    n_features: int = 0
    n_constant_features: int = 0
    n_nonfinite_inputs: int = 0
    n_nonfinite_targets: int = 0
    samples_scanned: int = 0
    is_builtin: bool = False  # one of trainlint's own datasets (so `dataset.args.*` fixes apply)
    feature_rms_max: float | None = None  # max over non-constant features of sqrt(mean² + std²)
    feature_rms_min: float | None = None
    feature_rms_argmax: int | None = None  # index of that feature (channel for images)
    target_is_integer_valued: bool | None = None  # every finite target a whole number
    n_target_values: int | None = None  # distinct finite target values (counted up to 1000)
    target_mean: list[float] | None = None  # regression: per-target mean over the scanned samples (finite ones)
    target_std: list[float] | None = None  # regression: per-target standard deviation (finite ones)
    target_rms: list[float] | None = None  # regression: per-target sqrt(mean² + std²), the scale a model must output


@dataclass
class FirstBatch:
    """Facts measured on the first training batch, before the first update."""

    input_shape: list[int] = field(default_factory=list)
    input_dtype: str = ""
    target_shape: list[int] = field(default_factory=list)
    target_dtype: str = ""
    output_shape: list[int] = field(default_factory=list)
    output_dtype: str = ""
    output_min: float | None = None
    output_max: float | None = None
    output_rows_sum_to_one: bool | None = None  # every row non-negative and summing to 1
    initial_loss: float | None = None
    expected_initial_loss: float | None = None  # loss of an uninformative (chance) output
    output_sensitivity: float | None = None  # between-sample output spread / output scale
    loss_warnings: list[str] = field(default_factory=list)
    output_is_log_prob: bool | None = None  # every row's logsumexp ≈ 0 (log-softmax output)


@dataclass
class EvalSeries:
    """Validation (and same-size train subset) evaluations every `eval_every` steps."""

    metric_name: str = "accuracy"
    higher_is_better: bool = True
    chance_metric: float | None = None  # e.g. majority-class accuracy, MAE of the mean
    steps: list[int] = field(default_factory=list)
    val_loss: list[float] = field(default_factory=list)
    val_metric: list[float] = field(default_factory=list)
    train_loss: list[float] = field(default_factory=list)
    train_metric: list[float] = field(default_factory=list)
    output_sensitivity: list[float] = field(default_factory=list)


@dataclass
class Resources:
    steps: list[int] = field(default_factory=list)
    rss_mb: list[float] = field(default_factory=list)
    cpu_percent: list[float] = field(default_factory=list)
    cuda_mem_mb: list[float] = field(default_factory=list)
    gpu_util_percent: list[float] = field(default_factory=list)
    cuda_available: bool = False
    device_type: str = "cpu"


@dataclass
class LrRange:
    """A learning-rate range test run after the probe, when the rules found the LR too high.

    `suggested_lr` is None when the curve was undecidable (`reason` says why).
    """

    suggested_lr: float | None
    reason: str
    status: str  # ok | flat | diverging | noisy | too_few_points | crashed
    steps_run: int = 0


@dataclass
class CrashInfo:
    """An exception raised by the user's model, data or loss during the probe."""

    phase: str  # data | forward | loss | backward | optimizer | eval | setup
    step: int
    exc_type: str
    message: str
    user_frame: dict[str, Any] | None = None  # file, line, function, code
    shapes: dict[str, Any] = field(default_factory=dict)  # input/target/output shapes, dtypes, devices
    traceback_tail: list[str] = field(default_factory=list)


@dataclass
class RunRecord:
    """Everything one probe measured. Per-step lists share the index of `steps`."""

    spec_name: str = ""
    task: str = "multiclass"
    num_classes: int | None = None
    num_outputs: int | None = None
    loss_class: str = ""
    optimizer_class: str = ""
    scheduler_class: str | None = None
    lr: float = 0.0
    weight_decay: float = 0.0  # the largest of the optimizer's parameter groups (the decayed weights')
    decoupled_weight_decay: bool = False  # AdamW-style: w shrinks by lr·wd each step, beside the update
    warmup_steps: int = 0
    batch_size: int = 0
    steps_planned: int = 0
    eval_every: int = 0
    stats_every: int = 0
    clip_grad_norm: float | None = None
    device: str = "cpu"
    seed: int = 0
    threads: int | None = None  # PyTorch intra-op threads the probe ran with (see probe/threads.py)
    threads_reason: str = ""
    model: ModelFacts = field(default_factory=ModelFacts)
    data: DataFacts = field(default_factory=DataFacts)
    first_batch: FirstBatch | None = None
    # per step
    steps: list[int] = field(default_factory=list)
    train_loss: list[float] = field(default_factory=list)
    lr_series: list[float] = field(default_factory=list)
    step_time_s: list[float] = field(default_factory=list)
    data_wait_s: list[float] = field(default_factory=list)
    grad_norm: list[float] = field(default_factory=list)  # global; before clipping unless grads_after_clipping
    grads_after_clipping: bool = False  # a watched run reads gradients at the optimizer step, after any clipping
    # per layer, sampled
    layer_grad_norm: LayerSeries = field(default_factory=LayerSeries)
    layer_param_norm: LayerSeries = field(default_factory=LayerSeries)
    update_ratio: LayerSeries = field(default_factory=LayerSeries)
    dead_fraction: LayerSeries = field(default_factory=LayerSeries)
    saturated_fraction: LayerSeries = field(default_factory=LayerSeries)
    activation_mean: LayerSeries = field(default_factory=LayerSeries)
    activation_std: LayerSeries = field(default_factory=LayerSeries)
    params_never_grad: list[str] = field(default_factory=list)  # trainable, grad always None/zero
    evals: EvalSeries = field(default_factory=EvalSeries)
    resources: Resources = field(default_factory=Resources)
    # DDP (a watched run under torchrun): each rank's median per step of the whole step, of the data
    # wait, and of its own time (data wait + forward pass: the part no other rank's pace is in)
    rank_step_time_s: list[float] = field(default_factory=list)
    rank_data_wait_s: list[float] = field(default_factory=list)
    rank_own_time_s: list[float] = field(default_factory=list)
    crash: CrashInfo | None = None
    lr_range: LrRange | None = None  # see workflow: run when an LR-lowering fix was suggested
    stop_reason: str = "completed"  # completed | non_finite_loss | crashed | interrupted | time_budget | pruned
    wall_seconds: float = 0.0
    startup_seconds: float = 0.0  # run_probe start → first training step
    first_step_after_process_start_s: float | None = None
    loop_seconds: float = 0.0  # the training loop, evaluations included
    eval_seconds: float = 0.0  # of which spent evaluating and on step-0 diagnostics

    @property
    def steps_run(self) -> int:
        return len(self.steps)

    def has(self, quantity: str) -> bool:
        """Whether `quantity` (a rule's `requires` entry) was recorded with any data."""
        value = getattr(self, quantity, None)
        if value is None:
            return False
        if isinstance(value, LayerSeries):
            return len(value) > 0 and bool(value.names)
        if isinstance(value, EvalSeries):
            return len(value.steps) > 0
        if isinstance(value, str):  # loss_class: empty when a watched loop did not say its loss
            return bool(value)
        if isinstance(value, DataFacts):  # a watched loop that logged no inputs or targets has none
            return value.samples_scanned > 0 or value.n_train > 0
        if isinstance(value, list | dict):
            return len(value) > 0
        return True

    @property
    def finite_train_loss(self) -> list[float]:
        return [v for v in self.train_loss if math.isfinite(v)]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RunRecord:
        """The record `to_dict` (or record.json) gave; keys it does not know are ignored, missing ones
        keep their defaults, so a record written by an older or newer trainlint still loads."""
        return _build(cls, data)


def _build(cls, data: dict[str, Any]):
    """A dataclass from a dict: nested dataclasses rebuilt, JSON nulls back to NaN in float lists."""
    hints = get_type_hints(cls)
    kwargs = {}
    for f in fields(cls):
        if f.name not in data:
            continue
        value, hint = data[f.name], hints[f.name]
        nested = next((t for t in _DATACLASSES if t in (hint, *getattr(hint, "__args__", ()))), None)
        if nested is not None and isinstance(value, dict):
            value = _build(nested, value)
        elif isinstance(value, dict) and f.name == "class_counts":
            value = {int(k): v for k, v in value.items()}
        elif isinstance(value, list):
            value = _nan_for_null(value)
        kwargs[f.name] = value
    return cls(**kwargs)


def _nan_for_null(values: list) -> list:
    """JSON writes NaN and ±inf as null (see `json_safe`); numeric series get NaN back."""
    if values and isinstance(values[0], list):
        return [_nan_for_null(v) if isinstance(v, list) else v for v in values]
    if any(isinstance(v, int | float) for v in values):
        return [math.nan if v is None else v for v in values]
    return values


def json_safe(value: Any) -> Any:
    """`value` with non-finite floats as None, for strict JSON."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_safe(v) for v in value]
    return value


_DATACLASSES = (LayerSeries, ModelFacts, DataFacts, FirstBatch, EvalSeries, Resources, LrRange, CrashInfo)
