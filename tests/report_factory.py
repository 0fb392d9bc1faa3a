"""A fixed, fabricated Report and RunRecord for the writer and plot tests (no probe, no timings).

The report exercises every branch the writers have: a finding located at line and column, one
located at a line only, one blamed on no field (spec path alone), an info finding, characters
that need escaping in each format (``%``, ``:``, ``,``, newlines, ``|``, ``<&>``, ``[brackets]``),
nested evidence, an applicable fix, a rule not evaluated, and plots among the artifacts.
"""

from __future__ import annotations

import math

from trainlint.probe.record import FirstBatch, LayerSeries, ModelFacts, RunRecord
from trainlint.report.model import Counts, Environment, Metrics, Report, RuleRef, Summary
from trainlint.rules.base import Finding, Fix, NotEvaluated, Severity


def fabricated_report() -> Report:
    findings = [
        Finding(code="TL301", rule="lr-too-high", severity=Severity.ERROR,
                message="LR 0.5 is too high: the loss jumped above 3x its start at step 43, "
                        "and updates move the weights by 8.8e-02 of their norm per step",
                evidence={"update_ratio_median": 0.08812345, "min_update_ratio": 0.03,
                          "update_ratio_by_layer": {"net.1": 0.0912345678, "net.3": 0.0854321}},
                fixes=[Fix("lower optimizer.lr from 0.5 to 0.006", "optimizer.lr", 0.006),
                       Fix("confirm with `trainlint lr-find`")],
                step=43, config_key="optimizer.lr", config_line=14, config_column=7),
        Finding(code="TL204", rule="loss-diverging", severity=Severity.ERROR,
                message="train loss climbed to 2.313, 2.0x its best level 1.175 (100% worse: a, b: c)\n"
                        "and stayed there",
                evidence={"ratio": 1.968, "min_ratio": 2.0, "best_step": 26},
                fixes=[Fix("lower optimizer.lr from 0.5 to 0.006", "optimizer.lr", 0.006)],
                step=26, config_key="optimizer.lr", config_line=14),
        Finding(code="TL403", rule="dead-relu", severity=Severity.WARNING,
                message="1 ReLU module(s) have ≥ 50% dead units (`net.4` 100%) | died during training",
                evidence={"dead_fraction": {"net.4": 1.0}, "worst_module": "net.4", "dead_at_init": False},
                fixes=[Fix("use LeakyReLU or GELU, whose units cannot die", "model.args.activation", "leaky_relu"),
                       Fix("normalise before the activation (batch or layer norm)")],
                step=199),
        Finding(code="TL102", rule="class-imbalance", severity=Severity.INFO,
                message="classes <0> & <1> are imbalanced [ratio 3.1]",
                evidence={"imbalance_ratio": 3.1, "counts": [300, 97]},
                fixes=[], config_key="dataset", config_line=5, config_column=1),
    ]
    return Report(
        trainlint_version="0.0.0-test",
        config_path="configs/example.yaml",
        config={"name": "example", "seed": 0},
        environment=Environment(python="3.x", torch="2.x", numpy="1.x", platform="test", device="cpu",
                                threads=1, cuda_available=False, seed=0),
        summary=Summary(status="fail", steps_run=200, steps_planned=200, stop_reason="completed",
                        wall_seconds=12.5, counts=Counts(error=2, warning=1, info=1)),
        metrics=Metrics(initial_loss=2.3026, expected_initial_loss=2.302585, final_train_loss=2.3131,
                        final_val_loss=2.3178, final_val_metric=0.0864, metric_name="accuracy",
                        chance_metric=0.0808, steps_per_second=41.7, startup_seconds=0.4, peak_rss_mb=402.6),
        findings=findings,
        not_evaluated=[NotEvaluated(code="TL001", rule="probe-crashed", reason="nothing to check: the probe did not crash")],
        artifacts=["report.json", "report.md", "metrics.jsonl", "loss.png", "gradients.png"],
        command="probe",
        rules_evaluated=[RuleRef(code=c, rule=r) for c, r in (
            ("TL102", "class-imbalance"), ("TL103", "unnormalized-inputs"), ("TL204", "loss-diverging"),
            ("TL301", "lr-too-high"), ("TL403", "dead-relu"), ("TL502", "underfitting"))],
    )


def fabricated_record(n_layers: int = 3, steps: int = 60, stop_at: int | None = None) -> RunRecord:
    """A RunRecord shaped like a real probe's: per-step losses, per-layer series, evaluations.

    Args:
        n_layers: layers with parameters (more than 10 switches the gradient plot to a heatmap).
        steps: planned steps.
        stop_at: the loss turns NaN at this step and the probe stops there.
    """
    run = stop_at + 1 if stop_at is not None else steps
    layers = [f"net.{2 * i + 1}" for i in range(n_layers)]
    acts = [f"net.{2 * i + 2}" for i in range(n_layers - 1)]
    record = RunRecord(spec_name="fabricated", loss_class="CrossEntropyLoss", optimizer_class="Adam", lr=1e-3,
                       steps_planned=steps, eval_every=20, stats_every=10,
                       model=ModelFacts(layers=layers, layer_types={n: "Linear" for n in layers},
                                        activations={n: "ReLU" for n in acts}),
                       first_batch=FirstBatch(initial_loss=2.3, expected_initial_loss=2.302585))
    for s in range(run):
        record.steps.append(s)
        loss = math.nan if s == stop_at else 2.3 * math.exp(-s / 30) + 0.05 * math.sin(s)
        record.train_loss.append(loss)
        record.lr_series.append(1e-3 * min(1.0, (s + 1) / 10))
        record.step_time_s.append(0.01)
        record.data_wait_s.append(0.001)
        record.grad_norm.append(0.5 + 0.1 * math.cos(s))
    record.layer_grad_norm = LayerSeries(layers, list(record.steps),
                                         [[0.3 * 10 ** (-j / 3) for j in range(n_layers)] for _ in record.steps])
    sampled = [s for s in record.steps if s % 10 == 0]
    record.layer_param_norm = LayerSeries(layers, sampled, [[5.0] * n_layers for _ in sampled])
    record.update_ratio = LayerSeries(layers, sampled, [[1e-3 * (1 + j) for j in range(n_layers)] for _ in sampled])
    record.dead_fraction = LayerSeries(acts, sampled, [[0.1 * j for j in range(len(acts))] for _ in sampled])
    record.saturated_fraction = LayerSeries(acts, sampled, [[math.nan] * len(acts) for _ in sampled])
    e = record.evals
    for s in record.steps:
        if (s + 1) % 20 == 0 and s != stop_at:
            e.steps.append(s)
            e.val_loss.append(2.0 * math.exp(-s / 40))
            e.val_metric.append(min(0.95, 0.1 + s / 60))
            e.train_loss.append(1.9 * math.exp(-s / 40))
            e.train_metric.append(min(0.97, 0.1 + s / 55))
    e.chance_metric = 0.1
    if stop_at is not None:
        record.stop_reason = "non_finite_loss"
    return record
