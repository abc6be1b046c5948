"""The GPU check (chapter 11): figures a GPU machine gives in under 5 minutes. Prints, asserts nothing.

    bash benchmarks/gpu_check.sh            # the project's own setup (make install), then this script
    .venv/bin/python benchmarks/gpu_check.py [--pages 48] [--long-side 1024] [--device cuda]

Runs on a CPU too (slowly, with fewer pages), so the script itself is tested without a GPU.
"""
import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from comicsal.data import discover, load_page
from comicsal.synth import synth_dataset
from comicsal.train import TrainConfig, train
from comicsal.zoo import resolve_model


def sync(dev):
    if dev.type == "cuda": torch.cuda.synchronize(dev)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--pages", type=int, default=48)
    ap.add_argument("--long-side", type=int, default=1024)
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--json", type=Path, help="also write the figures here")
    a = ap.parse_args()
    dev = torch.device(a.device)
    gpu = dev.type == "cuda"
    n = a.pages if gpu else min(a.pages, 6)
    out = {"device": torch.cuda.get_device_name(dev) if gpu else "cpu", "torch": torch.__version__,
           "cuda": torch.version.cuda, "pages": n, "long_side": a.long_side}
    print(json.dumps(out))
    with tempfile.TemporaryDirectory() as d:
        data = synth_dataset(Path(d) / "s", n, max(2, n // 4), 0, seed=0, progress=False, workers=2)
        pages = discover(data).split("train")
        xs = [load_page(p.image, a.long_side)[0] for p in pages]
        model = resolve_model("comicsal"); model.long_side = a.long_side
        model.to(dev).eval()
        if gpu: model.backbone.to(memory_format=torch.channels_last)
        for amp in ([False, True] if gpu else [False]):
            if gpu: torch.cuda.reset_peak_memory_stats(dev)
            with torch.no_grad(), torch.autocast("cuda", dtype=torch.float16, enabled=amp):
                model(xs[0][None].to(dev)); sync(dev)               # warm-up
                t = time.perf_counter()
                for x in xs:
                    xx = x[None].to(dev)
                    if gpu: xx = xx.contiguous(memory_format=torch.channels_last)
                    model(xx)
                sync(dev); dt = time.perf_counter() - t
            key = f"predict_pages_per_s_{'amp' if amp else 'fp32'}"
            out[key] = round(len(xs) / dt, 2)
            if gpu: out[f"predict_peak_gpu_mb_{'amp' if amp else 'fp32'}"] = round(torch.cuda.max_memory_allocated(dev) / 2**20)
            print(f"predict at {a.long_side} px ({'AMP' if amp else 'fp32'}): {out[key]} pages/s"
                  + (f", peak GPU memory {out['predict_peak_gpu_mb_' + ('amp' if amp else 'fp32')]} MB" if gpu else ""))
        # the readout on cached features: epochs per second once the cache exists
        cfg = TrainConfig(data=str(data), long_side=512, epochs=5, batch_size=16, patience=99, device=a.device,
                          cache="disk", cache_dir=str(Path(d) / "cache"))
        train(cfg, Path(d) / "warm", progress=False, evaluate_val=False)          # builds the cache
        t = time.perf_counter(); train(cfg, Path(d) / "readout", progress=False, evaluate_val=False)
        out["readout_epochs_per_s"] = round(5 / (time.perf_counter() - t), 2)
        print(f"readout training on cached features: {out['readout_epochs_per_s']} epochs/s ({len(pages)} pages)")
        # end-to-end fine-tuning: seconds per step (batch 8, last 3 blocks)
        if gpu: torch.cuda.reset_peak_memory_stats(dev)
        cfg = TrainConfig(data=str(data), long_side=512, epochs=2, batch_size=8, patience=99, device=a.device,
                          finetune="last:3", amp=gpu)
        s = train(cfg, Path(d) / "ft", progress=False, evaluate_val=False)
        steps = 2 * int(np.ceil(len(pages) / 8))
        out["finetune_s_per_step"] = round(s["seconds_training"] / steps, 3)
        if gpu: out["finetune_peak_gpu_mb"] = round(torch.cuda.max_memory_allocated(dev) / 2**20)
        print(f"fine-tuning (last:3, batch 8, 512 px{', AMP' if gpu else ''}): {out['finetune_s_per_step']} s/step"
              + (f", peak GPU memory {out['finetune_peak_gpu_mb']} MB" if gpu else "") + " (validation included)")
    if a.json: a.json.write_text(json.dumps(out, indent=1) + "\n")


if __name__ == "__main__":
    main()
