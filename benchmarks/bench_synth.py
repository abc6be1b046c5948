"""Speed of the embedded sample and of the data layer: prints figures, asserts nothing.

    .venv/bin/python benchmarks/bench_synth.py [--pages 40]
"""
import argparse
import tempfile
import time
from pathlib import Path

import torch

from comicsal.data import ComicDataset, check_dataset, pad_collate
from comicsal.synth import synth_dataset


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--pages", type=int, default=40)
    ap.add_argument("--long-side", type=int, default=1024)
    a = ap.parse_args()
    n_val = n_test = a.pages // 5
    n_train = a.pages - n_val - n_test
    with tempfile.TemporaryDirectory() as d:
        t = time.perf_counter()
        out = synth_dataset(Path(d) / "s", n_train, n_val, n_test, seed=0, progress=False)
        dt = time.perf_counter() - t
        print(f"synth: {a.pages} pages in {dt:.1f} s ({dt / a.pages * 1000:.0f} ms/page, torch threads {torch.get_num_threads()})")
        t = time.perf_counter(); rep = check_dataset(out, progress=False); dt = time.perf_counter() - t
        print(f"data check (full decode): {len(rep.discovery.pages)} pages in {dt:.2f} s")
        ds = ComicDataset(out, "train", long_side=a.long_side)
        loader = torch.utils.data.DataLoader(ds, batch_size=4, collate_fn=pad_collate)
        t = time.perf_counter(); n = sum(len(b["stem"]) for b in loader); dt = time.perf_counter() - t
        print(f"ComicDataset @ {a.long_side}px + pad_collate: {n / dt:.1f} pages/s")


if __name__ == "__main__":
    main()
