#!/usr/bin/env bash
# Regenerate the README's figures and example output with trainlint itself.
#   bash docs/make_figures.sh        (from anywhere; takes about a minute on 2 CPU cores)
# Every probe is seeded, so the figures change only when trainlint or the configs do.
set -euo pipefail
cd "$(dirname "$0")/.."
out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT

probe() {  # probe NAME CONFIG: run it, keep its plain-text output; findings (exit 1) are expected
    local status=0
    trainlint probe "$2" --out "$out/$1" > "$out/$1.txt" || status=$?
    [ "$status" -le 1 ] || { cat "$out/$1.txt" >&2; exit "$status"; }
}

probe quickstart configs/quickstart.yaml
probe lr-high configs/faults/tl204_sgd_momentum_lr_high.yaml
probe deep-sigmoid configs/faults/tl402_deep_sigmoid.yaml
probe dead-relu configs/faults/tl403_negative_bias.yaml

cp "$out/quickstart/loss.png" docs/quickstart-loss.png
cp "$out/lr-high/loss.png" docs/lr-high-loss.png
cp "$out/lr-high/updates.png" docs/lr-high-updates.png
cp "$out/deep-sigmoid/gradients.png" docs/deep-sigmoid-gradients.png
cp "$out/dead-relu/activations.png" docs/dead-relu-activations.png
# The terminal output shown in the README (wall time, speed and memory vary from run to run).
sed "s#$out/lr-high#trainlint-out/tl204-sgd-momentum-lr-high#" "$out/lr-high.txt" > docs/lr-high-output.txt
trainlint check configs/faults/tl206_softmax_cross_entropy.yaml --out "$out/check" > docs/check-output.txt || true
sed -i "s#$out/check#trainlint-out/tl206-softmax-cross-entropy#" docs/check-output.txt
echo "wrote docs/*.png, docs/lr-high-output.txt and docs/check-output.txt"
