"""`probe.threads`: how many threads a probe gives PyTorch, why, and that choosing leaves no trace."""

from __future__ import annotations

import pytest
import torch
from conftest import CONFIGS, read_report

from trainlint.probe.threads import PARALLEL_FLOPS, choose_threads, forward_flops

CPU = torch.device("cpu")


class FakeLoad:
    def __init__(self, idle):
        self.idle = idle

    def idle_cores(self):
        return self.idle


@pytest.fixture
def two_threads():
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    yield
    torch.set_num_threads(before)


def small():
    return torch.nn.Sequential(torch.nn.Linear(8, 16), torch.nn.ReLU(), torch.nn.Linear(16, 3))


def large():
    return torch.nn.Sequential(torch.nn.Linear(512, 1024), torch.nn.ReLU(), torch.nn.Linear(1024, 10))


def test_forward_flops_counts_the_whole_batch():
    flops = forward_flops(small(), torch.randn(64, 8))
    assert flops == pytest.approx(64 * 2 * (8 * 16 + 16 * 3))


def test_small_model_gets_one_thread(two_threads):
    choice = choose_threads("auto", CPU, small(), torch.randn(64, 8), FakeLoad(2.0))
    assert choice.threads == 1 and "small model" in choice.reason and "FLOPs" in choice.reason


def test_large_model_gets_the_idle_cores(two_threads):
    x = torch.randn(256, 512)
    assert forward_flops(large(), x) > PARALLEL_FLOPS
    assert choose_threads("auto", CPU, large(), x, FakeLoad(2.0)).threads == 2
    busy = choose_threads("auto", CPU, large(), x, FakeLoad(1.0))
    assert busy.threads == 1 and "1.0 of" in busy.reason and "busy with other processes" in busy.reason


def test_auto_never_raises_pytorchs_setting():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        choice = choose_threads("auto", CPU, large(), torch.randn(256, 512), FakeLoad(2.0))
    finally:
        torch.set_num_threads(before)
    assert choice.threads == 1


def test_explicit_setting_wins(two_threads):
    choice = choose_threads(3, CPU, small(), torch.randn(4, 8), FakeLoad(0.0))
    assert choice.threads == 3 and choice.reason == "probe.threads: 3"


def test_counting_leaves_rng_and_batchnorm_untouched():
    model = torch.nn.Sequential(torch.nn.Linear(8, 16), torch.nn.BatchNorm1d(16), torch.nn.Dropout(0.5))
    model.train()
    stats = model[1].running_mean.clone()
    x = torch.randn(32, 8) + 5
    rng = torch.get_rng_state()
    forward_flops(model, x)
    assert torch.equal(torch.get_rng_state(), rng) and torch.equal(model[1].running_mean, stats)
    assert model.training


def test_report_states_the_choice_and_the_probe_restores_pytorchs_setting(cli, tmp_path):
    before = torch.get_num_threads()
    result = cli("probe", CONFIGS / "quickstart.yaml", "--steps", "5", "--no-plots", "--out", tmp_path,
                 "--set", "probe.threads=2")
    assert result.exit_code == 0, result.output
    env = read_report(tmp_path)["environment"]
    assert env["threads"] == 2 and env["threads_reason"] == "probe.threads: 2"
    assert torch.get_num_threads() == before


def test_bad_thread_count_is_a_located_spec_error(cli, tmp_path):
    result = cli("probe", CONFIGS / "quickstart.yaml", "--out", tmp_path, "--set", "probe.threads=0")
    assert result.exit_code == 2
    assert "probe.threads" in result.output and "auto" in result.output


def test_threads_flag_sets_and_names_itself(cli, tmp_path):
    result = cli("check", CONFIGS / "quickstart.yaml", "--out", tmp_path, "--threads", "2")
    assert result.exit_code == 0, result.output
    assert read_report(tmp_path)["environment"]["threads_reason"] == "probe.threads: 2"
    bad = cli("probe", CONFIGS / "quickstart.yaml", "--out", tmp_path, "--threads", "many")
    assert bad.exit_code == 2 and bad.output.startswith("error: --threads many: field `probe.threads`")
