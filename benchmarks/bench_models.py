"""Inference speed and memory of the models at 1024 px, and the cost of training with cached features.
Prints figures, asserts nothing.

    .venv/bin/python benchmarks/bench_models.py [--pages 6] [--backbone efficientnet-lite0]
"""
import argparse
import resource
import tempfile
import time
from pathlib import Path

import torch

from comicsal.data import discover
from comicsal.models import CentreBiasModel, DatasetMeanModel, SpectralResidualModel, UniformModel
from comicsal.predict import page_logits
from comicsal.readout import ComicsalModel
from comicsal.synth import synth_dataset
from comicsal.train import FeatureCache, TrainConfig, train


def peak_rss_mb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--pages", type=int, default=6)
    ap.add_argument("--backbone", default="efficientnet-lite0")
    ap.add_argument("--long-side", type=int, default=1024)
    a = ap.parse_args()
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, device cpu")
    with tempfile.TemporaryDirectory() as d:
        data = synth_dataset(Path(d) / "s", 24, 8, a.pages, seed=0, progress=False)
        pages = discover(data).split("test")
        models = {"uniform": UniformModel(), "centre-bias": CentreBiasModel(), "dataset-mean": DatasetMeanModel(),
                  "spectral-residual": SpectralResidualModel(), f"comicsal ({a.backbone})": ComicsalModel(a.backbone, a.long_side)}
        for name, m in models.items():
            page_logits(m, pages[0].image)                                   # warm-up
            t = time.perf_counter()
            for p in pages: page_logits(m, p.image)
            dt = time.perf_counter() - t
            print(f"inference {name:<32} {len(pages) / dt:6.2f} pages/s   peak RSS so far {peak_rss_mb():.0f} MB")
        m = models[f"comicsal ({a.backbone})"]
        t = time.perf_counter(); cache = FeatureCache(m, discover(data).split("train"), progress=False)
        dt = time.perf_counter() - t
        C, h, w = cache[0].feats.shape
        print(f"feature cache: {len(cache)} pages in {dt:.1f} s ({dt / len(cache):.2f} s/page); "
              f"{C}×{h}×{w} float16 = {cache[0].feats.numel() * 2 / 1e6:.1f} MB/page")
        t = time.perf_counter()
        s = train(TrainConfig(data=str(data), backbone=a.backbone, long_side=a.long_side, epochs=20, patience=100),
                  Path(d) / "run", progress=False, evaluate_val=False)
        print(f"training, 24 train + 8 val pages: features {s['seconds_features']} s, 20 epochs {s['seconds_training']} s "
              f"({s['seconds_training'] / 20:.2f} s/epoch incl. validation); peak RSS {peak_rss_mb():.0f} MB")


if __name__ == "__main__":
    main()
