"""Frozen backbone vs end-to-end fine-tuning (`--finetune last:N`) on the embedded sample: scores and CPU cost.
Prints figures, asserts nothing.

    .venv/bin/python benchmarks/bench_finetune.py [--data data/sample] [--epochs 12] [--last 2] [--long-side 512]
"""
import argparse
import tempfile
import time
from pathlib import Path

import torch

from comicsal.synth import synth_dataset
from comicsal.train import TrainConfig, train


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", default=None, help="a dataset (default: the sample, drawn into a temp folder)")
    ap.add_argument("--epochs", type=int, default=12)
    ap.add_argument("--last", type=int, default=2)
    ap.add_argument("--long-side", type=int, default=512)
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args()
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, {'cuda' if torch.cuda.is_available() else 'cpu'}")
    with tempfile.TemporaryDirectory() as d:
        data = a.data or str(synth_dataset(Path(d) / "s", 24, 8, 0, seed=a.seed, progress=False))
        rows = {}
        for name, ft in (("frozen (cached features)", None), (f"fine-tuned (last:{a.last})", f"last:{a.last}")):
            t = time.perf_counter()
            s = train(TrainConfig(data=data, long_side=a.long_side, epochs=a.epochs, patience=a.epochs, seed=a.seed,
                                  finetune=ft, batch_size=4), Path(d) / name.split()[0], progress=False)
            rows[name] = (s, time.perf_counter() - t)
        print(f"\n{a.epochs} epochs, long side {a.long_side}, val pages of {data}")
        print(f"{'model':<28}{'CC':>7}{'KLD':>7}{'AUC':>7}{'NSS':>7}{'s/epoch':>9}{'total s':>9}")
        for name, (s, secs) in rows.items():
            v, m = s["val_ai4va"], s["val_mit"]
            print(f"{name:<28}{v['CC']:>7.3f}{v['KLD']:>7.3f}{v['AUC']:>7.3f}{m['NSS']:>7.3f}"
                  f"{s['seconds_training'] / max(1, s['epochs']):>9.1f}{secs:>9.0f}")


if __name__ == "__main__":
    main()
