"""Structure detection on real and synthetic pages, leave-one-series-out: prints figures, asserts nothing.

    .venv/bin/python benchmarks/bench_structure.py [--openmantra ../shared/data/comics/openmantra] [--synth-pages 24]
    .venv/bin/python benchmarks/bench_structure.py --train-panels 16 --panel-seed 0,1,2 --train-text 1500    # every fold held out, from scratch (as shipped)

For each OpenMantra series held out, the detectors' tuned numbers (panels: `straight`) are chosen on the other
three series (micro F1 at IoU 0.5) and the held-out series is scored with them; `--train-panels EPOCHS` trains the
panel networks per fold on the other three series plus 60 synthetic pages, one per seed of `--panel-seed` (several
seeds: an ensemble whose maps are averaged, as shipped; what the structure chapter reports; `--panel-fold-weights
DIR` reuses networks trained that way, one file per series, and the drawing-style fold's `*generator*.pt` if it is
there; `--panel-views 4` also averages the flipped views of each page); with `--train-text N` the text
network is trained (N steps) on the other three series plus 100 synthetic pages for each fold — without it the
shipped weights, which saw every series, are used (not a held-out figure). All four rotations and their mean are
printed, with the worst fold, then the synthetic sample (default settings; `--only-synth` for that alone), the classical balloon detector for comparison, and the
CPU time per page at 1024 px.

Leave one style out: with `--train-panels`, a fifth fold trains on the four OpenMantra series alone and is scored
on pages of the generator's held-out configuration (a drawing style and layouts no fold saw), and every fold is
also scored on stress variations of its held-out pages — scanned small (long side 180–600 px), printed in colour,
with dark gutters (panel F1) — and on pages of the held-out series' text alone (panels found per page; right: 0).

Which input map does what: `--panel-maps gray,ink,gutter,rule_h,rule_v,darkest` (any of the structure chapter's
`PANEL_FEATURES`) trains and scores every fold's network — and the generator fold's — on those maps alone; with
`--train-panels 16` it runs one row of the chapter's ablation again (seed 0; `--panel-seed` for the others; two
threads and its own synthetic pages, so its figures differ from the table's within about the seeds' spread).
"""
import argparse
import shutil
import tempfile
import time
from collections import defaultdict
from functools import partial
from pathlib import Path

import numpy as np
import torch

from comicsal.annotations import load_structure
from comicsal.config import ComicsalError, project_root
from comicsal.data import load_page
from comicsal.detector_training import colourise, dark_gutters, small_scan, text_pages, train_panel_net, train_text_net
from comicsal.structure import (
    PANEL_FEATURES,
    PANEL_VIEWS,
    WORK_SIDE,
    _prf,
    detect_balloons,
    detect_panels,
    detect_panels_classical,
    detect_text,
    feature_index,
    match_boxes,
    order_agreement,
    reading_order,
    scale_boxes,
)

PANEL_GRID = [{"straight": 0.7}, {"straight": 0.8}]


def counts(pred, truth, thresh):
    return np.array(match_boxes(pred, truth, thresh))


def synthetic(a):
    "Panels, reading order and text blocks on synthetic pages (the sample generator's answer keys)."
    from comicsal.synth import synth_dataset
    with tempfile.TemporaryDirectory() as d:
        root = synth_dataset(Path(d) / "s", 0, a.synth_pages, 0, seed=7, progress=False)
        spc, scc, stc, sbc, sord = np.zeros(3), np.zeros(3), np.zeros(3), np.zeros(3), np.zeros(2)
        for p in load_structure(root):
            x, (H, W) = load_page(p.image, WORK_SIDE); img = x.permute(1, 2, 0).numpy()
            sc = partial(scale_boxes, from_hw=img.shape[:2], to_hw=(H, W))
            boxes = sc(detect_panels(img, "ltr", views=a.views))
            spc += counts(boxes, p.panels, 0.5); sord += order_agreement(boxes, p.panels)
            scc += counts(sc(detect_panels_classical(img, "ltr")), p.panels, 0.5)
            stc += counts(sc(detect_text(img).boxes), p.text, 0.5); sbc += counts(sc(detect_balloons(img).boxes), p.text, 0.5)
        print(f"synthetic ({a.synth_pages} pages, seed 7): panels P/R/F1 {' / '.join(f'{v:.3f}' for v in _prf(*spc))} "
              f"(classical {' / '.join(f'{v:.3f}' for v in _prf(*scc))}), "
              f"order {sord[0] / max(1, sord[1]):.3f}; text P/R/F1 {' / '.join(f'{v:.3f}' for v in _prf(*stc))} "
              f"(classical: {' / '.join(f'{v:.3f}' for v in _prf(*sbc))})")


def train_panels(a, pages, path):
    "One panel network per seed of `--panel-seed` on `pages`, saved to `path` (several: a list, the ensemble's file)."
    nets = [train_panel_net(pages, epochs=a.train_panels, seed=k, progress=False, maps=a.panel_maps) for k in a.panel_seeds]
    torch.save(nets[0] if len(nets) == 1 else nets, path)
    return path


def stress(a, pages, series, work, pweights, tmp):
    "Each fold's network on variations of its held-out pages, on text-only pages, and (trained) the generator fold."
    print("stress variations of each held-out series (panel F1 at IoU 0.5; text-only pages: panels found per page, right: 0):")
    print(f"{'held out':<18}{'as is':>8}{'small':>8}{'colour':>8}{'dark':>8}{'text-only':>11}")
    rows = []
    for s in series:
        rng, c = np.random.default_rng(5), defaultdict(lambda: np.zeros(3))
        for p in pages:
            if p.series != s: continue
            img, (H, W) = work[p.key]; f = img.shape[0] / H
            for kind, im in (("as is", img), ("small", small_scan(img, rng)), ("colour", colourise(img, p.panels, f, rng)),
                             ("dark", dark_gutters(img, p.panels, f, rng))):
                c[kind] += counts(scale_boxes(detect_panels(im, p.direction, pweights[s], a.panel_maps, a.views), img.shape[:2], (H, W)), p.panels, 0.5)
        neg = np.mean([len(detect_panels(im, "ltr", pweights[s], a.panel_maps, a.views)) for im in text_pages([p for p in pages if p.series == s], 8, rng)])
        rows.append([_prf(*c[k])[2] for k in ("as is", "small", "colour", "dark")] + [neg])
        print(f"{s:<18}" + "".join(f"{v:>8.3f}" for v in rows[-1][:4]) + f"{neg:>11.2f}")
    if a.train_panels or "generator" in pweights:
        from comicsal.observers import SynthParams
        from comicsal.synth import synth_dataset
        t = time.perf_counter()
        if "generator" not in pweights:
            pweights["generator"] = train_panels(a, pages, tmp / "panels-generator.pt")
        held = load_structure(synth_dataset(tmp / "synth-style", a.synth_pages, 0, 0, seed=17, progress=False,
                                            params=SynthParams.preset("heldout"), workers=2))
        c = np.zeros(3)
        for p in held:
            x, (H, W) = load_page(p.image, WORK_SIDE); img = x.permute(1, 2, 0).numpy()
            c += counts(scale_boxes(detect_panels(img, p.direction, pweights["generator"], a.panel_maps, a.views), img.shape[:2], (H, W)),
                        p.panels, 0.5)
        rows.append([_prf(*c)[2]] + [np.nan] * 4)
        print(f"{'generator pages':<18}{rows[-1][0]:>8.3f}   (trained on OpenMantra alone; {time.perf_counter() - t:.0f} s; "
              f"{a.synth_pages} pages of the held-out configuration)")
    r = np.array(rows, float)
    print(f"{'worst':<18}" + "".join(f"{v:>8.3f}" for v in np.nanmin(r[:, :4], 0)) + f"{np.nanmax(r[:, 4]):>11.2f}")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--openmantra", type=Path, default=project_root().parent / "shared" / "data" / "comics" / "openmantra")
    ap.add_argument("--synth-pages", type=int, default=24)
    ap.add_argument("--train-text", type=int, default=0, metavar="STEPS", help="train the text network per fold (steps)")
    ap.add_argument("--train-panels", type=int, default=0, metavar="EPOCHS", help="train the panel network per fold (epochs)")
    ap.add_argument("--panel-synth", type=int, default=60, metavar="N", help="synthetic pages in each fold's panel training")
    ap.add_argument("--panel-synth-preset", default="sample", choices=("sample", "corpus", "heldout"),
                    help="the generator preset of those pages (heldout: more insets, borderless panels, crossing balloons)")
    ap.add_argument("--panel-fold-weights", type=Path, metavar="DIR",
                    help="per-fold panel network weights trained without each series: DIR/*<series>*.pt (else the shipped ones)")
    ap.add_argument("--text-fold-weights", type=Path, metavar="DIR",
                    help="per-fold text weights already trained without each series: DIR/*<series>*.pt")
    ap.add_argument("--panel-maps", default=",".join(PANEL_FEATURES), metavar="NAMES",
                    help=f"the panel network's input maps, comma-separated (default: all of {','.join(PANEL_FEATURES)})")
    ap.add_argument("--panel-seed", default="0", metavar="SEEDS",
                    help="the seed of each fold's panel training; several, comma-separated (0,1,2): an ensemble of that many networks a fold")
    ap.add_argument("--panel-views", type=int, default=1, choices=(1, 2, len(PANEL_VIEWS)),
                    help=f"the views of a page the panel networks' maps are averaged over: {PANEL_VIEWS} (the first N; 1: the page as is)")
    ap.add_argument("--only-synth", action="store_true", help="only the synthetic pages (no OpenMantra)")
    a = ap.parse_args()
    a.panel_maps = tuple(m.strip() for m in a.panel_maps.split(",") if m.strip())
    try: a.panel_seeds = [int(v) for v in a.panel_seed.split(",")]
    except ValueError: raise SystemExit(f"--panel-seed: {a.panel_seed!r} is not a seed or a comma-separated list of seeds") from None
    a.views = PANEL_VIEWS[:a.panel_views]
    try: feature_index(a.panel_maps)
    except ComicsalError as e: raise SystemExit(f"--panel-maps: {e}") from None
    if a.panel_maps != PANEL_FEATURES and not (a.train_panels or a.panel_fold_weights):
        raise SystemExit("--panel-maps: the shipped network reads all the maps; train networks on fewer with --train-panels")
    torch.set_num_threads(2)
    if a.only_synth: return synthetic(a)
    pages = load_structure(a.openmantra)
    series = sorted({p.series for p in pages})
    weights = {s: None for s in series}            # per held-out series: the text network's weights file
    pweights = {s: None for s in series}           # ... and the panel network's
    if a.panel_fold_weights:
        for s in series:
            found = sorted(a.panel_fold_weights.glob(f"*{s}*.pt"))
            if len(found) != 1: raise SystemExit(f"--panel-fold-weights: expected one *{s}*.pt in {a.panel_fold_weights}, found {found}")
            pweights[s] = found[0]
        found = sorted(a.panel_fold_weights.glob("*generator*.pt"))      # the drawing-style fold's, if it is there
        if len(found) == 1: pweights["generator"] = found[0]
    tmp = Path(tempfile.mkdtemp(prefix="bench-structure-"))
    if a.text_fold_weights:
        for s in series:
            found = sorted(a.text_fold_weights.glob(f"*{s}*.pt"))
            if len(found) != 1: raise SystemExit(f"--text-fold-weights: expected one *{s}*.pt in {a.text_fold_weights}, found {found}")
            weights[s] = found[0]
    if a.train_panels:
        from comicsal.observers import SynthParams
        from comicsal.synth import synth_dataset
        synth = load_structure(synth_dataset(tmp / "synth-panels", a.panel_synth, 0, 0, seed=13, progress=False,
                                             params=SynthParams.preset(a.panel_synth_preset), workers=2))
        for s in series:
            t = time.perf_counter()
            pweights[s] = train_panels(a, [p for p in pages if p.series != s] + synth, tmp / f"panels-{s}.pt")
            print(f"panel network{'s' if len(a.panel_seeds) > 1 else ''} without {s}: {a.train_panels} epochs in "
                  f"{time.perf_counter() - t:.0f} s (maps {','.join(a.panel_maps)}; seed {a.panel_seed})")
    if a.train_text:
        from comicsal.synth import synth_dataset
        synth = load_structure(synth_dataset(tmp / "synth", 100, 0, 0, seed=11, progress=False))
        for s in series:
            t = time.perf_counter()
            ck = train_text_net([p for p in pages if p.series != s] + synth, iters=a.train_text, seed=0, progress=False)
            torch.save(ck, tmp / f"text-{s}.pt"); weights[s] = tmp / f"text-{s}.pt"
            print(f"text network without {s}: {a.train_text} steps in {time.perf_counter() - t:.0f} s, settings {ck['params']}")
    work, times = {}, defaultdict(list)
    for p in pages:                      # every page once at the working scale; boxes compared at the page's size
        x, hw = load_page(p.image, WORK_SIDE)
        work[p.key] = (x.permute(1, 2, 0).numpy(), hw)
    # panels: counts per (series, setting); reading order with the default setting
    pc, order = defaultdict(lambda: np.zeros(3)), defaultdict(lambda: np.zeros(2))
    lc = defaultdict(lambda: np.zeros(3)); tc = defaultdict(lambda: np.zeros(3)); tc3 = defaultdict(lambda: np.zeros(3)); bc = defaultdict(lambda: np.zeros(3))
    for p in pages:
        img, (H, W) = work[p.key]
        sc = partial(scale_boxes, from_hw=img.shape[:2], to_hw=(H, W))
        for k, setting in enumerate(PANEL_GRID):
            t = time.perf_counter(); boxes = sc(detect_panels_classical(img, p.direction, **setting)); times["classical panels"].append(time.perf_counter() - t)
            pc[p.series, k] += counts(boxes, p.panels, 0.5)
        t = time.perf_counter(); boxes = sc(detect_panels(img, p.direction, pweights[p.series], a.panel_maps, a.views)); times["panels"].append(time.perf_counter() - t)
        lc[p.series] += counts(boxes, p.panels, 0.5); order[p.series] += order_agreement(boxes, p.panels)
        t = time.perf_counter(); tb = sc(detect_text(img, weights[p.series]).boxes); times["text"].append(time.perf_counter() - t)
        tc[p.series] += counts(tb, p.text, 0.5); tc3[p.series] += counts(tb, p.text, 0.3)
        bc[p.series] += counts(sc(detect_balloons(img).boxes), p.text, 0.5)
    print(f"OpenMantra, leave one series out ({len(pages)} pages; tuned on the other three"
          + ("" if a.panel_fold_weights or a.train_panels else "; panels: the shipped weights, trained on all series — NOT held out")
          + ("" if a.train_text or a.text_fold_weights else "; text: the shipped weights, trained on all series — NOT held out") + "):")
    print(f"{'held out':<18}{'panel P':>9}{'R':>7}{'F1':>7}{'order':>8}{'text P':>9}{'R':>7}{'F1':>7}{'F1@.3':>8}   classical panels (setting) F1")
    f1s, tf1s, cf1s = [], [], []
    for s in series:
        train = [sum(pc[t, k] for t in series if t != s) for k in range(len(PANEL_GRID))]
        k = int(np.argmax([_prf(*c)[2] or 0 for c in train]))
        cf1s.append(_prf(*pc[s, k])[2])
        P, R, F = _prf(*lc[s]); f1s.append(F)
        tP, tR, tF = _prf(*tc[s]); tf1s.append(tF)
        ok, n = order[s]
        print(f"{s:<18}{P:>9.3f}{R:>7.3f}{F:>7.3f}{ok / max(1, n):>8.3f}{tP:>9.3f}{tR:>7.3f}{tF:>7.3f}{_prf(*tc3[s])[2]:>8.3f}   {PANEL_GRID[k]} {cf1s[-1]:.3f}")
    print(f"{'mean':<18}{'':>14}{np.mean(f1s):>7.3f}{'':>24}{np.mean(tf1s):>7.3f}{'':>8}   classical {np.mean(cf1s):.3f}")
    print(f"{'worst fold':<18}{'':>14}{min(f1s):>7.3f}{'':>24}{min(tf1s):>7.3f}{'':>8}   classical {min(cf1s):.3f}"
          f"   (panels: {series[int(np.argmin(f1s))]}, text: {series[int(np.argmin(tf1s))]})")
    print("classical balloon detector, text F1 at IoU 0.5: " + ", ".join(f"{s} {_prf(*bc[s])[2]:.3f}" for s in series)
          + f"; mean {np.mean([_prf(*bc[s])[2] for s in series]):.3f}")
    # reading order of the annotation's own boxes: does `reading_order` agree with the annotators' list order?
    ok = n = 0
    for p in pages:
        r = reading_order(p.panels, p.direction)
        ok += sum(r[i] < r[j] for i in range(len(r)) for j in range(i + 1, len(r))); n += len(r) * (len(r) - 1) // 2
    if a.train_panels or a.panel_fold_weights: stress(a, pages, series, work, pweights, tmp)
    print(f"reading_order on the annotated boxes agrees with the annotation's order on {ok / n:.3f} of {n} pairs")
    synthetic(a)
    print(f"CPU seconds per page at {WORK_SIDE} px ({torch.get_num_threads()} threads): "
          + ", ".join(f"{k} {np.mean(v):.3f} (max {np.max(v):.3f})" for k, v in times.items()))
    shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
