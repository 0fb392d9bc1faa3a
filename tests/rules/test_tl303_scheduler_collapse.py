"""TL303 scheduler-collapse on fabricated LR and loss histories."""

import math

import pytest
from loss_factory import decaying, record

from trainlint.rules.engine import evaluate
from trainlint.rules.lr.scheduler_collapse import scheduler_collapse

N = 200
LOSS = decaying(N, tau=30)  # still falling through the first ~100 steps
CONVERGED = [2.3, 1.0, 0.3] + [0.05] * (N - 3)


def step_lr(step_size: int, gamma: float, lr: float = 1e-3) -> list[float]:
    return [lr * gamma ** (i // step_size) for i in range(N)]


def multistep_lr(milestones: list[int], gamma: float, lr: float = 1e-3) -> list[float]:
    return [lr * gamma ** sum(i >= m for m in milestones) for i in range(N)]


def cosine(period: int, lr: float = 1e-3) -> list[float]:
    return [lr * 0.5 * (1 + math.cos(math.pi * (i % period) / period)) for i in range(N)]


def warmup(steps: int, lr: float = 1e-3) -> list[float]:
    return [lr * min(1.0, (i + 1) / steps) for i in range(N)]


def sched(lr_series, loss=LOSS, **kw):
    return record(loss, lr_series=lr_series, steps_planned=N, **kw)


FIRES = [
    ("steplr_gamma_0_001", sched(step_lr(20, 0.001), scheduler_class="StepLR")),
    ("exponential_per_epoch_gamma", sched([1e-3 * 0.9**i for i in range(N)], scheduler_class="ExponentialLR")),
    ("multistep", sched(multistep_lr([30, 60], 0.05), scheduler_class="MultiStepLR")),
    ("collapse_just_before_half", sched(step_lr(98, 0.001), scheduler_class="StepLR")),
    ("custom_schedule", sched(step_lr(20, 0.001), scheduler_class="LambdaLR")),
    ("warmup_longer_than_probe", sched(warmup(20000), warmup_steps=20000)),
    ("ramp_never_done", sched(warmup(2000), scheduler_class="LinearLR")),
    # whatever the loss did: converged, or flat because the LR was gone before it could fall
    ("converged_before_collapse", sched(step_lr(20, 0.001), loss=CONVERGED, scheduler_class="StepLR")),
    ("per_epoch_steplr_flat_loss", sched(step_lr(1, 0.7), loss=[2.3] * N, scheduler_class="StepLR")),
]

QUIET = [
    ("constant", sched([1e-3] * N)),
    ("cosine_over_the_run", sched(cosine(N), scheduler_class="CosineAnnealingLR")),
    ("cosine_restarts_dip", sched(cosine(50), scheduler_class="CosineAnnealingWarmRestarts")),
    ("collapse_after_half", sched(step_lr(102, 0.001), scheduler_class="StepLR")),
    ("default_steplr", sched(step_lr(N // 3, 0.1), scheduler_class="StepLR")),  # 1 % at 67 %
    ("warmup_half_the_run", sched(warmup(100), warmup_steps=100)),
    ("warmup_peak_just_above", sched(warmup(790), warmup_steps=790)),  # peaks at 25.3 %
    ("too_short", record(LOSS[:5], lr_series=step_lr(2, 0.001)[:5])),
    ("blew_up_during_warmup", record(LOSS[:12] + [math.nan], lr_series=warmup(100)[:13], steps_planned=N,
                                     warmup_steps=100)),  # peaked at 13 %, but stopped at step 12
]


def findings(run):
    found, skipped = evaluate(run, rules=[scheduler_collapse])
    assert not skipped
    return found


@pytest.mark.parametrize("name, run", FIRES, ids=[n for n, _ in FIRES])
def test_fires(name, run):
    (f,) = findings(run)
    assert f.code == "TL303" and f.severity.value == "warning"
    null = f.fixes[-1]
    assert null.config_key == "scheduler" and null.value is None and null.applicable


@pytest.mark.parametrize("name, run", QUIET, ids=[n for n, _ in QUIET])
def test_quiet(name, run):
    assert findings(run) == []


def test_steplr_collapse_evidence_and_fix():
    (f,) = findings(sched(step_lr(20, 0.001), scheduler_class="StepLR", n_train=1000, batch_size=64))
    assert f.step == 20 and f.evidence["collapse_step"] == 20
    assert f.evidence["collapse_at_fraction"] == pytest.approx(0.1)
    assert f.evidence["lr_at_collapse"] == pytest.approx(1e-6) and f.evidence["peak_lr"] == 1e-3
    assert f.evidence["loss_drop_before_collapse"] >= 0.02
    assert f.config_key == "scheduler.args.step_size"
    assert f.fixes[0].value == 200 and f.fixes[0].applicable  # 20 x (200 / 20)
    per_epoch = f.fixes[1]  # step_size 20 read as epochs of ceil(1000 / 64) = 16 steps
    assert per_epoch.config_key == "scheduler.args.step_size" and per_epoch.value == 320
    assert "16 optimizer steps each" in per_epoch.text


def test_exponential_per_epoch_gamma_is_stepped_per_epoch():
    """gamma 0.9 is an epoch's decay: per epoch first, or the same decay spread over 16 steps."""
    (f,) = findings(sched([1e-3 * 0.9**i for i in range(N)], scheduler_class="ExponentialLR"))
    assert f.fixes[0].config_key == "scheduler.interval" and f.fixes[0].value == "epoch"
    assert f.fixes[1].config_key == "scheduler.args.gamma"
    assert f.fixes[1].value == pytest.approx(0.9 ** (1 / 16), abs=1e-4)


def test_exponential_gamma_is_slowed_to_reach_the_floor_at_the_end():
    # one batch per epoch: nothing reads as epochs, the schedule is slowed to the run
    (f,) = findings(sched([1e-3 * 0.9**i for i in range(N)], scheduler_class="ExponentialLR", n_train=64))
    assert f.evidence["collapse_step"] == 44  # 0.9**44 < 1 %
    gamma = f.fixes[0].value
    assert f.fixes[0].config_key == "scheduler.args.gamma"
    assert gamma == pytest.approx(0.9 ** (44 / 200), abs=1e-4)  # the 1 % floor moves to step 200
    assert gamma**200 == pytest.approx(0.9**44, rel=0.01)


def test_multistep_milestones_are_stretched():
    (f,) = findings(sched(multistep_lr([30, 60], 0.05), scheduler_class="MultiStepLR"))
    assert f.evidence["collapse_step"] == 60
    assert f.fixes[0].config_key == "scheduler.args.milestones" and f.fixes[0].value == [100, 200]


def test_unknown_schedule_blames_the_scheduler():
    (f,) = findings(sched(step_lr(20, 0.001), scheduler_class="LambdaLR"))
    assert f.config_key == "scheduler" and f.fixes[0].config_key is None
    assert "16 steps per epoch" in f.fixes[0].text


def test_long_warmup_is_shortened():
    (f,) = findings(sched(warmup(20000), warmup_steps=20000))
    assert f.config_key == "scheduler.warmup_steps"
    assert f.evidence["peak_fraction"] == pytest.approx(0.01)
    assert f.fixes[0].config_key == "scheduler.warmup_steps" and f.fixes[0].value == 20
    assert "never warmed up" in f.message and "1.0%" in f.message


def test_ramp_without_warmup_offers_removing_the_scheduler():
    (f,) = findings(sched(warmup(2000), scheduler_class="LinearLR"))
    assert f.config_key == "scheduler" and [x.config_key for x in f.fixes] == ["scheduler"]


def test_per_epoch_schedule_stepped_per_step_suggests_epoch_interval():
    """pytorch/examples' StepLR(step_size=1, gamma=0.7), stepped per batch: 1 % by step 13."""
    (f,) = findings(sched(step_lr(1, 0.7), loss=[2.3] * N, scheduler_class="StepLR", n_train=1437, batch_size=64))
    assert f.evidence["collapse_step"] == 13 and f.evidence["looks_per_epoch"]
    assert f.evidence["steps_per_epoch"] == 23
    assert f.config_key == "scheduler.interval"
    assert (f.fixes[0].config_key, f.fixes[0].value, f.fixes[0].applicable) == ("scheduler.interval", "epoch", True)
    assert (f.fixes[1].config_key, f.fixes[1].value) == ("scheduler.args.step_size", 23)  # 1 epoch in steps
    assert "had not started falling" in f.message


def test_schedule_already_per_epoch_is_not_told_to_step_per_epoch():
    """Drops an epoch or more apart are not a per-epoch schedule stepped per batch."""
    (f,) = findings(sched(step_lr(20, 0.001), scheduler_class="StepLR", n_train=640, batch_size=64))
    assert not f.evidence["looks_per_epoch"] and f.fixes[0].config_key == "scheduler.args.step_size"


def test_a_schedule_already_stepped_per_epoch_is_not_told_to_convert_epochs():
    """LR drops exactly at epoch boundaries (16 steps): the schedule already runs per epoch."""
    lrs = [1e-3 * 0.01 ** (i // 16) for i in range(N)]
    (f,) = findings(sched(lrs, scheduler_class="StepLR", n_train=1000, batch_size=64))
    assert not f.evidence["looks_per_epoch"]
    assert not any("epoch" in x.text for x in f.fixes)
