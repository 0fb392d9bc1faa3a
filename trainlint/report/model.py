"""The Report model: report.json (schema version 1) and the source of every output format."""

from __future__ import annotations

import contextlib
import functools
import math
import os
import platform
import sys
from typing import Any, Literal

from pydantic import BaseModel, Field, computed_field

from trainlint import __version__
from trainlint.analysis.generalization import final_val_metric
from trainlint.probe.record import RunRecord
from trainlint.rules.base import Finding, NotEvaluated, Severity
from trainlint.verify.model import Verification

SCHEMA_VERSION = 1
FINAL_WINDOW = 10  # final train loss = mean of the last 10 finite step losses


class Environment(BaseModel):
    python: str
    torch: str
    numpy: str
    platform: str
    device: str
    threads: int
    threads_reason: str = Field("", description="Why the probe ran with `threads` (probe.threads, --threads).")
    cuda_available: bool
    seed: int


class Counts(BaseModel):
    error: int = 0
    warning: int = 0
    info: int = 0


class Summary(BaseModel):
    status: Literal["pass", "warn", "fail"]
    steps_run: int
    steps_planned: int
    stop_reason: str
    wall_seconds: float
    counts: Counts


class Metrics(BaseModel):
    initial_loss: float | None = None
    expected_initial_loss: float | None = None
    first_train_loss: float | None = Field(
        None, description="The first recorded training loss (step 0's; a TensorBoard log's first point).")
    final_train_loss: float | None = None
    final_val_loss: float | None = None
    final_val_metric: float | None = Field(
        None, description="The last evaluation's validation metric; findings quote it as \"at the end\" "
                          "(analysis.generalization.final_val_metric).")
    metric_name: str = "accuracy"
    chance_metric: float | None = None
    steps_per_second: float | None = None
    startup_seconds: float | None = None
    first_step_after_process_start_s: float | None = None
    peak_rss_mb: float | None = None


class RuleRef(BaseModel):
    """A rule by identity (code and name)."""

    code: str
    rule: str


class RootCause(BaseModel):
    """A finding no other finding explains, with the findings it explains (fix it first)."""

    code: str
    rule: str
    severity: Severity
    finding: int = Field(description="Index of the root cause's finding in `findings`.")
    consequences: list[str] = Field(
        default_factory=list, description="Codes of the findings it explains, directly or through another, "
                                          "in report order.")
    consequence_findings: list[int] = Field(default_factory=list, description="Their indices in `findings`.")


def root_causes_of(findings: list[Finding]) -> list[RootCause]:
    """Every root cause with its consequences, most important first: the most severe group, then
    the one explaining most, then by code. An info finding is listed only when it explains others.

    Why derived from `caused_by` alone: report.json's two views of the links can never disagree.
    """
    from trainlint.rules.causes import root_of

    roots: dict[int, list[int]] = {}
    for i, f in enumerate(findings):
        if f.caused_by is None:
            roots.setdefault(i, [])
    for i, f in enumerate(findings):
        if f.caused_by is not None:
            root = root_of(f, findings)
            j = next(k for k, g in enumerate(findings) if g is root)
            roots.setdefault(j, []).append(i)
    out = []
    for i, members in roots.items():
        f = findings[i]
        if f.severity == Severity.INFO and not members:
            continue
        out.append(RootCause(code=f.code, rule=f.rule, severity=f.severity, finding=i,
                             consequences=[findings[k].code for k in members], consequence_findings=members))

    def importance(r: RootCause) -> tuple:
        worst = max([r.severity.rank, *(findings[k].severity.rank for k in r.consequence_findings)])
        return (-worst, -len(r.consequences), r.finding)

    return sorted(out, key=importance)


class Report(BaseModel):
    schema_version: int = SCHEMA_VERSION
    trainlint_version: str = __version__
    config_path: str
    config: dict[str, Any]
    environment: Environment
    summary: Summary
    metrics: Metrics
    findings: list[Finding] = Field(default_factory=list)
    not_evaluated: list[NotEvaluated] = Field(default_factory=list)
    artifacts: list[str] = Field(default_factory=list)
    command: str = Field("probe", description="The command that made it: probe | check.")
    rules_evaluated: list[RuleRef] = Field(
        default_factory=list, description="Every rule that ran (with or without findings), in catalog order."
    )
    verification: Verification | None = Field(
        None, description="What `--verify-fixes` re-ran and found (null when it was not asked for)."
    )

    @computed_field(description="The findings to fix first, each with the findings it explains (derived from "
                                "each finding's `caused_by`, so the two never disagree), most important first.")
    @property
    def root_causes(self) -> list[RootCause]:
        return root_causes_of(self.findings)


def _finite(value: float | None) -> float | None:
    return value if value is not None and math.isfinite(value) else None


def environment(record: RunRecord) -> Environment:
    import numpy
    import torch

    return Environment(
        python=platform.python_version(), torch=torch.__version__, numpy=numpy.__version__,
        platform=f"{sys.platform}-{platform.machine()}", device=record.device,
        threads=record.threads or torch.get_num_threads(), threads_reason=record.threads_reason,
        cuda_available=record.resources.cuda_available, seed=record.seed,
    )


def metrics_of(record: RunRecord) -> Metrics:
    fb = record.first_batch
    finite = record.finite_train_loss
    compute = sum(record.step_time_s)
    rss = [v for v in record.resources.rss_mb if math.isfinite(v)]
    e = record.evals
    return Metrics(
        initial_loss=_finite(fb.initial_loss) if fb else None,
        expected_initial_loss=_finite(fb.expected_initial_loss) if fb else None,
        first_train_loss=finite[0] if finite else None,
        final_train_loss=sum(finite[-FINAL_WINDOW:]) / len(finite[-FINAL_WINDOW:]) if finite else None,
        final_val_loss=_finite(e.val_loss[-1]) if e.val_loss else None,
        final_val_metric=final_val_metric(e.val_metric),
        metric_name=e.metric_name, chance_metric=e.chance_metric,
        steps_per_second=record.steps_run / compute if compute > 0 else None,
        startup_seconds=record.startup_seconds,
        first_step_after_process_start_s=record.first_step_after_process_start_s, peak_rss_mb=max(rss) if rss else None,
    )


def status_of(findings: list[Finding]) -> Literal["pass", "warn", "fail"]:
    severities = {f.severity for f in findings}
    if Severity.ERROR in severities:
        return "fail"
    return "warn" if Severity.WARNING in severities else "pass"


def build_report(config_path: str, config: dict[str, Any], record: RunRecord, findings: list[Finding],
                 not_evaluated: list[NotEvaluated], artifacts: list[str]) -> Report:
    counts = Counts(**{s.value: sum(f.severity == s for f in findings) for s in Severity})
    return Report(
        config_path=config_path, config=config, environment=environment(record),
        summary=Summary(status=status_of(findings), steps_run=record.steps_run,
                        steps_planned=record.steps_planned, stop_reason=record.stop_reason,
                        wall_seconds=round(record.wall_seconds, 3), counts=counts),
        metrics=metrics_of(record), findings=findings, not_evaluated=not_evaluated, artifacts=artifacts,
    )


def write_atomic(path: os.PathLike, text: str | bytes) -> None:
    """Write via a temporary file in the same folder and rename, so a killed process never leaves
    half a file: readers see the old file or the new one. The temporary file has a name of its own
    (`.report.json.<random>.tmp`) and is removed if writing fails."""
    import tempfile

    folder, name = os.path.split(os.fspath(path))
    fd, tmp = tempfile.mkstemp(prefix=f".{name}.", suffix=".tmp", dir=folder or ".")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(text.encode("utf-8") if isinstance(text, str) else text)
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


@functools.cache
def _umask() -> int:
    """The process umask, read once (mkstemp creates files 0600; outputs get the usual permissions)."""
    mask = os.umask(0)
    os.umask(mask)
    return mask
