"""Webtoon strips: the shipped default on long pages, read whole (squashed to the model's size) vs in tiles (issue 25).

Stacks `--per-strip` synthetic sample pages (their ground-truth maps the same way) into strips 690 px wide, as a
webtoon is, and prints CC and KLD of each way against the stacked maps, per strip and the worst. The maps are
the synthetic generator's simulated readers, not recorded gaze. Asserts nothing.
    python benchmarks/bench_strips.py [--data data/sample] [--strips 3] [--per-strip 5]
"""
import argparse
import tempfile
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from comicsal.data import discover, load_map, load_page
from comicsal.metrics import cc, kld
from comicsal.predict import _run, map_uint8, model_long_side, page_logits
from comicsal.zoo import resolve_model


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default="data/sample")
    ap.add_argument("--strips", type=int, default=3)
    ap.add_argument("--per-strip", type=int, default=5)
    ap.add_argument("--width", type=int, default=690)
    a = ap.parse_args()
    torch.set_num_threads(2)
    model = resolve_model("comicsal")
    pages = [p for p in discover(a.data).split("train") if p.map is not None]
    rows = []
    with tempfile.TemporaryDirectory() as d:
        for k in range(a.strips):
            group = pages[k * a.per_strip:(k + 1) * a.per_strip]
            if len(group) < a.per_strip: break
            ims = [Image.open(p.image).convert("RGB") for p in group]
            hs = [round(im.height * a.width / im.width) for im in ims]
            strip, gt, y = Image.new("RGB", (a.width, sum(hs)), "white"), Image.new("L", (a.width, sum(hs)), 0), 0
            for p, im, h in zip(group, ims, hs):
                strip.paste(im.resize((a.width, h)), (0, y))
                gt.paste(Image.fromarray((load_map(p.map) * 255).astype(np.uint8)).resize((a.width, h)), (0, y)); y += h
            f = Path(d) / f"strip{k}.png"; strip.save(f)
            G = np.asarray(gt, np.float64)
            tiled = map_uint8(page_logits(model, f), G.shape).astype(np.float64)
            x, _ = load_page(f, model_long_side(model))
            with torch.no_grad(): whole = map_uint8(_run(model, x[None])[0], G.shape).astype(np.float64)
            rows.append((cc(whole, G), cc(tiled, G), kld(whole, G), kld(tiled, G)))
            print(f"strip {k} ({a.width}×{G.shape[0]}, {a.per_strip} pages): CC whole {rows[-1][0]:.3f} tiled {rows[-1][1]:.3f}; "
                  f"KLD whole {rows[-1][2]:.3f} tiled {rows[-1][3]:.3f}")
    r = np.array(rows)
    print(f"worst strip: CC whole {r[:, 0].min():.3f} tiled {r[:, 1].min():.3f}; KLD whole {r[:, 2].max():.3f} tiled {r[:, 3].max():.3f}")


if __name__ == "__main__":
    main()
