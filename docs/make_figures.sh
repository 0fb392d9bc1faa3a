#!/usr/bin/env bash
# Regenerate the README's figures and example output with trainlint itself.
#   bash docs/make_figures.sh        (from anywhere; about a minute on 2 CPU cores)
#
# Deterministic in everything it controls: every probe is seeded (the configs' `seed`), runs on
# the CPU (--device cpu, even where CUDA is available) on one thread (--threads 1,
# and OMP_NUM_THREADS/MKL_NUM_THREADS=1 for NumPy and anything else), so the findings, losses and
# figures change only when trainlint, a config or the PyTorch build does. Wall time, speed and
# peak memory still vary from run to run, and peak memory from build to build (a CUDA build of
# torch maps its CUDA libraries at import, a CPU-only one does not). The environment the outputs
# come from is printed at the end and written to docs/figures-environment.txt; the README says
# which build its numbers are for from that file. tests/test_docs.py checks that the README's
# example output matches these outputs in their deterministic lines.
set -euo pipefail
cd "$(dirname "$0")/.."
export OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 PYTHONHASHSEED=0
pin=(--device cpu --threads 1)
out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT

probe() {  # probe NAME CONFIG [OPTION...]: run it, keep its plain-text output; findings (exit 1) are expected
    local name="$1" config="$2" status=0
    shift 2
    trainlint probe "$config" --out "$out/$name" "${pin[@]}" "$@" > "$out/$name.txt" || status=$?
    [ "$status" -le 1 ] || { cat "$out/$name.txt" >&2; exit "$status"; }
}
shown() {  # shown NAME DEFAULT-OUT: the output as the README's command prints it (its default --out)
    sed "s#$out/$1#trainlint-out/$2#g" "$out/$1.txt"
}

probe quickstart configs/quickstart.yaml
probe lr-high configs/faults/tl204_sgd_momentum_lr_high.yaml
probe deep-sigmoid configs/faults/tl402_deep_sigmoid.yaml
probe dead-relu configs/faults/tl403_negative_bias.yaml
probe verify configs/faults/tl502_weight_decay_huge.yaml --verify-fixes
probe verify-v configs/faults/tl502_weight_decay_huge.yaml --verify-fixes -v
status=0
trainlint check configs/faults/tl206_softmax_cross_entropy.yaml --out "$out/check" "${pin[@]}" \
    > "$out/check.txt" || status=$?
[ "$status" -le 1 ] || { cat "$out/check.txt" >&2; exit "$status"; }

cp "$out/quickstart/loss.png" docs/quickstart-loss.png
cp "$out/lr-high/loss.png" docs/lr-high-loss.png
cp "$out/lr-high/updates.png" docs/lr-high-updates.png
cp "$out/deep-sigmoid/gradients.png" docs/deep-sigmoid-gradients.png
cp "$out/dead-relu/activations.png" docs/dead-relu-activations.png
# The terminal output shown in the README (wall time, speed and memory vary from run to run).
shown lr-high tl204-sgd-momentum-lr-high > docs/lr-high-output.txt
shown check tl206-softmax-cross-entropy > docs/check-output.txt
shown verify tl502-weight-decay-huge > docs/verify-output.txt
shown verify-v tl502-weight-decay-huge > docs/verify-verbose-output.txt

# Where these outputs come from: the PyTorch build, threads and machine, and each run's peak memory.
python - "$out" > docs/figures-environment.txt <<'EOF'
import json
import os
import platform
import sys
from pathlib import Path

import torch

out = Path(sys.argv[1])
env = json.loads((out / "lr-high" / "report.json").read_text())["environment"]
cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")), platform.processor()) if Path("/proc/cpuinfo").exists() else ""
build = f"CUDA {torch.version.cuda}" if torch.version.cuda else "CPU-only"
print(f"torch        {torch.__version__} ({build} build; CUDA available: {torch.cuda.is_available()})")
print(f"python       {platform.python_version()}, numpy {env['numpy']}, {platform.system()} {platform.machine()}")
print(f"cpu          {cpu}, {os.cpu_count()} logical cores")
print(f"threads      {env['threads']} ({env['threads_reason']}); OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS')}")
print(f"device       {env['device']}")
for name in ("quickstart", "lr-high", "deep-sigmoid", "dead-relu", "verify", "check"):
    report = json.loads((out / name / "report.json").read_text())
    metrics, summary = report["metrics"], report["summary"]
    speed = metrics.get("steps_per_second")
    print(f"{name:<12} {report['config_path']}: peak memory {metrics.get('peak_rss_mb') or 0:.0f} MB RSS, "
          f"wall {summary['wall_seconds']:.1f} s" + (f", {speed:.0f} steps/s" if speed and report["command"] == "probe" else ""))
EOF
cat docs/figures-environment.txt
echo "wrote docs/*.png, docs/*-output.txt and docs/figures-environment.txt"
