"""TL001 probe-crashed: the user's model, data or loss raised during the probe."""

from __future__ import annotations

from collections.abc import Iterator

from trainlint.probe.record import CrashInfo, RunRecord
from trainlint.rules.base import Finding, Severity, Stage, Thresholds, rule
from trainlint.rules.probe.crash_kinds import diagnose


def where(crash: CrashInfo) -> str:
    """``in forward() at model.py:12 (`return self.fc(x)`), during forward at step 3``."""
    f = crash.user_frame
    if not f:
        return f"during {crash.phase} at step {crash.step}"
    return f"in {f['function']}() at {f['file']}:{f['line']} (`{f['code']}`), during {crash.phase} at step {crash.step}"


@rule(code="TL001", name="probe-crashed", severity=Severity.ERROR, stage=Stage.FIRST_BATCH)
def probe_crashed(run: RunRecord, t: Thresholds) -> Iterator[Finding]:
    """The user's model, data or loss raised an exception during the probe.

    ## What it checks
    Whether the probe caught an exception from user code (dataset `__getitem__`, model forward,
    loss, backward, optimizer step, evaluation), and what kind: a Linear layer sized for other
    inputs, output/target batch or shape mismatch, class labels out of range, Long/Float dtype
    mismatch of inputs or targets, tensors on different devices, out of memory, a loss that is
    not a scalar, autograd misuse (detached loss, graph reused, in-place overwrite), or a dataset
    record that cannot be read (with its index).
    ## Why it matters
    The setup cannot train at all; the raw traceback rarely says which spec field or line is at fault.
    ## How to fix
    Follow the targeted fix; the evidence gives the user frame, the tensors' shapes, dtypes and
    devices, and the layer that was running. The report, the metrics of the steps before the
    crash and the plots are still written.
    ## Not flagged
    Nothing else: this rule has no thresholds; any crash is an error. A spec that cannot be built
    at all (an unknown name, a `target:` factory returning the wrong type) is a spec error (exit 2).
    """
    crash = run.crash
    if crash is None:
        return
    found = diagnose(crash, run)
    yield Finding(
        message=f"{found.text} — {crash.exc_type} {where(crash)}",
        evidence={"kind": found.kind, "exception": crash.exc_type, "error": crash.message[:500],
                  "phase": crash.phase, "user_frame": crash.user_frame, "tensors": crash.shapes},
        fixes=found.fixes, step=crash.step, config_key=found.config_key,
    )
