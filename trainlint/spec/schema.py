"""The experiment spec as pydantic models: the single definition of what a YAML spec may say.

Every model forbids unknown keys, so a typo is an error with a location rather than a
silently ignored setting. Names of components (`model.name`, `loss.name`, ...) are checked
against the registries after validation, in `trainlint.spec.validate`, because the
registries import torch and this module must stay cheap to import.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

Task = Literal["multiclass", "binary", "regression"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class Component(_Strict):
    """A component named from a registry (`name`) or brought by the user (`target`)."""

    name: str | None = Field(None, description="Built-in name (see `trainlint init` and the README).")
    target: str | None = Field(
        None, description="`package.module:attr` or `path/to/file.py:attr` (relative to the spec)."
    )
    args: dict[str, Any] = Field(default_factory=dict, description="Keyword arguments.")

    @model_validator(mode="after")
    def _name_xor_target(self) -> Component:
        if (self.name is None) == (self.target is None):
            raise ValueError("give exactly one of `name` (a built-in) or `target` (your own code)")
        return self


class DatasetSpec(Component):
    batch_size: int = Field(64, ge=1, le=2**31 - 1, strict=True, description="Training batch size.")
    val_fraction: float = Field(0.2, ge=0.0, lt=1.0, description="Share held out for validation.")
    task: Task | None = Field(None, description="multiclass | binary | regression; inferred when null.")
    num_workers: int = Field(0, ge=0, le=64, description="DataLoader worker processes (at most 64).")
    shuffle: bool = Field(True, description="Shuffle the training data each epoch.")
    target_key: str | None = Field(
        None, description="Key of the target in dict samples (default: labels, label, y, target or targets)."
    )


class ModelSpec(Component):
    time_major: bool | None = Field(
        None, description="A recurrent model (`forward(input, hidden)`, `init_hidden(batch_size)`) takes "
        "(T, B, ...) inputs; null: as its first RNN/LSTM/GRU's batch_first says."
    )
    output: str | int = Field(
        "auto", description="Which part of the model's output the rules and the metric read: auto (a tensor; "
        "a tuple's first element; a dict's, ModelOutput's or dataclass's `logits`, else its first tensor), "
        "a key or attribute name, or an index."
    )


class LossSpec(Component):
    from_model: bool | str | int = Field(
        False, description="Use the loss the model computes itself: true (its `loss` key or attribute, else "
        "the first 0-d tensor of a tuple), a key or attribute name, or an index. The target is passed to the "
        "model (under its dict key, as `labels`, or as the next argument)."
    )

    @model_validator(mode="after")
    def _name_xor_target(self) -> LossSpec:  # replaces Component's: `from_model` needs neither
        if self.from_model is not False:
            if self.name is not None or self.target is not None:
                raise ValueError("give `from_model` alone: the model computes the loss, so no `name` or `target`")
            return self
        return super()._name_xor_target()


class ParamGroupsSpec(_Strict):
    no_decay: list[Annotated[str, Field(min_length=1)]] = Field(
        default_factory=list,
        description="Parameters trained without weight decay (weight_decay 0), the rest keep "
        "`optimizer.args.weight_decay`. An entry matches a parameter when it is the end of its "
        "`named_parameters()` name on a dot boundary (`bias`, `LayerNorm.weight`), the class name of the "
        "module holding it (`LayerNorm`, `Embedding`), or that class name and the attribute "
        "(`LayerNorm.weight`).",
    )


class OptimizerSpec(Component):
    lr: float = Field(1e-3, gt=0.0, allow_inf_nan=False, description="Learning rate.")
    receives: Literal["params", "model"] = Field(
        "params", description="What a `target:` factory is called with: params (`factory(params, lr=..., "
        "**args)`) or model (`factory(model, lr=..., **args)`, which builds its own parameter groups and "
        "returns the optimizer)."
    )
    param_groups: ParamGroupsSpec | None = Field(
        None, description="Parameter groups built by trainlint for a built-in optimizer or a `receives: "
        "params` target: `{no_decay: [bias, LayerNorm.weight]}`."
    )


class SchedulerSpec(Component):
    warmup_steps: int = Field(0, ge=0, description="Linear warmup length in optimizer steps.")
    interval: Literal["step", "epoch"] = Field(
        "step", description="step: the scheduler steps after every optimizer step; epoch: after every epoch, "
        "an epoch being len(train loader) optimizer steps (the training batches, ceil(train samples / "
        "batch_size)). Lengths such as step_size or T_max count in this unit; warmup_steps always count "
        "optimizer steps."
    )


class ProbeSpec(_Strict):
    steps: int = Field(300, ge=1, le=10_000_000, strict=True, description="Optimizer steps to run.")
    eval_every: int = Field(25, ge=1, description="Validate every N steps (and at the end).")
    max_seconds: float | None = Field(
        None, gt=0.0, allow_inf_nan=False,
        description="Time budget for the training loop, in seconds, counted from the first training step "
        "(evaluations included; start-up before it and the final evaluation, rules and plots after it not): "
        "the probe stops after the step that reaches it, evaluates once more and reports what it recorded "
        "(stop reason time_budget). null = no budget.",
    )
    clip_grad_norm: float | None = Field(
        None, gt=0.0, allow_inf_nan=False, description="Clip the global grad norm."
    )
    stats_every: int = Field(
        20, ge=1, description="Cadence of per-layer update-ratio and activation sampling, in steps."
    )
    tensorboard: bool = Field(
        False, description="Also write the recorded scalars as TensorBoard events under `--out/tensorboard`."
    )
    verify_fixes: bool = Field(
        False, description="Re-run the probe with each finding's machine-applicable fix and report which ones work."
    )
    verify_attempts: int = Field(
        2, ge=1, le=10, description="Fixes tried per finding when verifying, best first, until one works."
    )
    threads: Annotated[int, Field(ge=1, le=1024, strict=True)] | Literal["auto"] = Field(
        "auto", description="auto (1 thread for small models, else the idle cores) or a whole number of threads ≥ 1"
    )


class RulesSpec(_Strict):
    select: list[str] = Field(default_factory=list, description="Codes, names or prefixes; empty = all.")
    ignore: list[str] = Field(default_factory=list, description="Codes, names or prefixes to skip.")
    thresholds: dict[str, dict[str, Any]] = Field(
        default_factory=dict, description="Per rule name, per threshold parameter."
    )


class CompareSpec(_Strict):
    losses: list[str | dict[str, Any]] = Field(default_factory=list)
    optimizers: list[str | dict[str, Any]] = Field(default_factory=list)


class Spec(_Strict):
    """A whole experiment spec (DESIGN §2)."""

    name: str | None = Field(None, description="Output folder name; the file's stem when null.")
    seed: int = Field(0, ge=0, le=2**32 - 1, description="Seed for weights, data split and order.")
    device: str = Field("auto", pattern=r"^(auto|cpu|cuda(:\d+)?)$", description="auto|cpu|cuda|cuda:N")
    dataset: DatasetSpec
    model: ModelSpec
    loss: LossSpec
    optimizer: OptimizerSpec
    scheduler: SchedulerSpec | None = None
    probe: ProbeSpec = Field(default_factory=ProbeSpec)
    rules: RulesSpec = Field(default_factory=RulesSpec)
    compare: CompareSpec = Field(default_factory=CompareSpec)
