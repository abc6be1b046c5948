#!/usr/bin/env bash
# The GPU check (chapter 11): under 5 minutes on one GPU, unattended, with the project's own setup.
#   bash benchmarks/gpu_check.sh [OUT_DIR]
# Prints predict pages/s at 1024 px (fp32, AMP), readout epochs/s, fine-tuning s/step, peak GPU memory, and with
# N > 1 GPUs the 1-vs-N-process predict comparison under torchrun. Figures also go to OUT_DIR/gpu_check.json.
set -euo pipefail
cd "$(dirname "$0")/.."
OUT="${1:-results/gpu_check}"; mkdir -p "$OUT"
make install >/dev/null
PY=.venv/bin/python
timeout 240 "$PY" benchmarks/gpu_check.py --json "$OUT/gpu_check.json"
NGPU=$("$PY" -c "import torch; print(torch.cuda.device_count())")
if [ "$NGPU" -gt 1 ]; then
    DATA=$(mktemp -d)
    "$PY" -m comicsal data synth --out "$DATA/s" --n-train 0 --n-val 0 --n-test 64 --workers 4 --no-progress >/dev/null
    for n in 1 "$NGPU"; do
        rm -rf "$DATA/p$n"; t0=$SECONDS
        timeout 120 .venv/bin/torchrun --standalone --nproc-per-node "$n" -m comicsal predict --model comicsal \
            --images "$DATA/s" --out "$DATA/p$n" --no-progress >/dev/null
        echo "torchrun predict, $n process(es): 64 pages in $((SECONDS - t0)) s (start-up included)"
    done
    rm -rf "$DATA"
else
    echo "one GPU (or none): no 1-vs-N comparison"
fi
