"""Adaptation on the real eye-tracking sets: learning curves and the maps-only weights. Prints figures, asserts nothing.

    .venv/bin/python benchmarks/bench_adapt.py [--base comicsal] [--base-for SET=MODEL ...] [--sets fiwi gdi mit1003] [--mit-pages 150] [--make-bases DIR] [--train]

For each set (under ../shared/data/attention) the pages are split in half at random (seed 1): the second half is
scored, fitting pages are drawn from the first (N = 5, 15, 50 and all of it; three draws below all). Rows: the base
as it is (zero-shot), the calibration, the calibration with the prior, the prior alone, the readout refitted for a fixed
20 steps (a comicsal base), and what `adapt` would choose by 5-fold cross-validation over the N fitting pages (the
candidates it chose are printed; a stacked `readout-K+calibration+prior` is scored as `adapt` makes it). Scores: the `ai4va` protocol on the 8-bit maps `predict` writes
(CC, KLD; mean over the scored pages). Then the maps-only weights: the prior fitted on 15 maps alone, combined with the
base at each (γ, w) of a grid; for each set the pair chosen on the *other* sets (leave one set out) is scored.

Leave one set out: `--make-bases DIR` trains each set's base on the other two sets (`comicsal train`; see
`make_bases`) and uses it; `--base-for fiwi=M1 gdi=M2 mit1003=M3` names such bases directly. `--train` adds, on each set's fitting half, `train --init BASE` and training from scratch
(15 pages, and all of the half; 5 more pages watch early stopping) and the centre bias fitted there.
"""
import argparse
import time
from pathlib import Path

import numpy as np
import torch

from comicsal.adapt import (
    STEPS,
    Candidate,
    apply_parameters,
    base_log_densities,
    choose,
    cross_validate,
    fit_choice,
    fit_parameters,
    fit_readout,
    map_targets,
    page_inputs,
    readout_log_densities,
    score_pages,
)
from comicsal.config import project_root
from comicsal.data import discover, load_map
from comicsal.zoo import resolve_model


def set_pages(root: Path, n_max: int = 0):
    "The set's pages with maps, sorted by stem; at most `n_max` of them (a fixed random draw, seed 0)."
    pages = sorted((p for p in discover(root).pages if p.map is not None), key=lambda p: p.stem)
    if n_max and len(pages) > n_max: pages = [pages[i] for i in sorted(np.random.default_rng(0).permutation(len(pages))[:n_max])]
    return pages


def load_set(root: Path, base, n_max: int):
    pages = set_pages(root, n_max)
    maps = [load_map(p.map) for p in pages]
    lps, feats = page_inputs(base, [p.image for p in pages], progress=False)
    return lps, map_targets(maps), maps, pages, (base, feats) if feats else None


def halves(n: int):
    "(scored, fitting) page indices: the set split in half at random (seed 1)."
    perm = np.random.default_rng(1).permutation(n)
    return np.sort(perm[: n // 2]), perm[n // 2:]


def linked_dataset(root: Path, pages, n_val: int = 5, prefix: str = "") -> Path:
    "A dataset folder of links: the last `n_val` of `pages` in val (early stopping), the others in train."
    for k, p in enumerate(pages):
        split = "val" if k >= len(pages) - n_val else "train"
        for kind, f in (("images", p.image), ("maps", p.map)):
            (root / kind / split).mkdir(parents=True, exist_ok=True)
            (root / kind / split / f"{prefix}{p.stem}{Path(f).suffix}").symlink_to(Path(f).resolve())
    return root


def train_config(data, **kw):
    from comicsal.train import TrainConfig
    return TrainConfig(data=str(data), backbone="efficientnet-lite0", long_side=512, epochs=30, lr=0.005, batch_size=16,
                       patience=6, seed=0, cache="disk", **kw)


def make_bases(out: Path, attention: Path, sets, mit_pages: int) -> dict:
    """Leave one set out: for each set, a base trained (ImageNet backbone, `comicsal train`) on the *other* sets'
    pages, a set under 100 pages linked twice so the big one does not drown it; a tenth of each set watches early
    stopping. Written to OUT/no-SET/model.pt (kept when there already). Returns {set: model path}."""
    from comicsal.train import train
    res = {}
    for s in sets:
        dest = out / f"no-{s}"; res[s] = str(dest / "model.pt")
        if (dest / "model.pt").exists(): continue
        ds = out / f"no-{s}-data"
        for o in sets:
            if o == s: continue
            pages = set_pages(attention / o, mit_pages if o == "mit1003" else 0)
            for rep in range(2 if len(pages) < 100 else 1):
                linked_dataset(ds, pages, n_val=max(1, len(pages) // 10), prefix=f"{o}{rep}_")
        t = time.perf_counter(); train(train_config(ds), dest, progress=False, evaluate_val=False)
        print(f"base without {s}: trained on {', '.join(o for o in sets if o != s)} in {time.perf_counter() - t:.0f} s", flush=True)
    return res


def trained(name, base_path: str, lps, tg, maps, pages, readout=None, sizes=(15, None)):
    """`train --init BASE` and from scratch on N fitting pages (+5 val; None: all of the fitting half), and the
    centre bias fitted on them, scored on the scored half like the curves."""
    import tempfile

    from comicsal.models import load_model
    from comicsal.train import train
    te, pool = halves(len(maps)); held = [maps[i] for i in te]
    for N in sizes:
        sel = pool if N is None else np.random.default_rng(10).choice(pool, min(N + 5, len(pool)), replace=False)
        with tempfile.TemporaryDirectory() as d:
            ds = linked_dataset(Path(d) / "ds", [pages[i] for i in sel])
            row = {}
            for label, kw in (("train --init", {"init": base_path}), ("from scratch", {}), ("centre bias", {"model": "centre-bias"})):
                t = time.perf_counter()
                train(train_config(ds, **kw), Path(d) / label.replace(" ", "_"), progress=False, evaluate_val=False)
                m = load_model(Path(d) / label.replace(" ", "_") / "model.pt")
                row[label] = score_pages(base_log_densities(m, [pages[i].image for i in te], progress=False), held)
                row[label]["s"] = time.perf_counter() - t
        print(f"  trained on {len(sel) - 5} pages (+5 val): " + " | ".join(f"{k} CC {v['CC']:.3f} KLD {v['KLD']:.3f} ({v['s']:.0f} s)" for k, v in row.items()), flush=True)


def curves(name, lps, tg, maps, pages=None, readout=None):
    n = len(maps); te, pool = halves(n)
    held = [maps[i] for i in te]
    z = score_pages(lps[te], held)
    print(f"{name}: {len(te)} scored pages; zero-shot CC {z['CC']:.3f} KLD {z['KLD']:.3f}")
    for N in sorted({N for N in (5, 15, 50) if N < len(pool)} | {len(pool)}):
        acc, chosen = {}, []
        for rep in range(3 if N < len(pool) else 1):
            tr = np.sort(np.random.default_rng(10 + rep).choice(pool, N, replace=False))
            row = {c: score_pages(apply_parameters(lps[te], fit_parameters(lps[tr], tg[tr], STEPS[c])), held) for c in ("calibration", "calibration+prior")}
            row["prior alone"] = score_pages(apply_parameters(None, fit_parameters(None, tg[tr], STEPS["prior"])).expand(len(te), -1, -1), held)
            sub = (readout[0], [readout[1][i] for i in tr]) if readout else None
            oof, heads = {}, {}
            ch = choose(cross_validate(lps[tr], tg[tr], [maps[i] for i in tr], 5, readout=sub, oof=oof, heads=heads))
            if readout:
                row["readout-20"] = score_pages(readout_log_densities(fit_readout(readout[0], sub[1], [maps[i] for i in tr], 20), [readout[1][i] for i in te]), held)
                if Candidate.of(ch).readout:      # as `adapt` makes it
                    m, p = fit_choice(ch, readout[0], lps[tr], tg[tr], sub[1], [maps[i] for i in tr], oof, heads)
                    ro_te = readout_log_densities(m, [readout[1][i] for i in te])
                    row[ch] = score_pages(apply_parameters(ro_te, p) if p else ro_te, held)
            row["adapt (CV choice)"] = row.get(ch, z); chosen.append(ch)
            for k, v in row.items(): acc.setdefault(k, []).append(v)
        print(f"  N={N:<4}" + " | ".join(f"{k} CC {np.mean([v['CC'] for v in r]):.3f} KLD {np.mean([v['KLD'] for v in r]):.3f}"
                                         for k, r in acc.items() if k == "readout-20" or not k.startswith("readout-")) + f" (chosen: {chosen})", flush=True)


GAMMAS, WEIGHTS = (0.25, 0.5, 0.75, 1.0), (0.0, 0.5, 1.0, 1.5)


def maps_only(data: dict):
    "{set: {(γ, w): (CC, KLD)}} with the prior from 15 maps of the first half, scored on the second half."
    res = {}
    for name, (lps, tg, maps, *_) in data.items():
        te, pool = halves(len(maps))
        tr = np.sort(np.random.default_rng(10).choice(pool, min(15, len(pool)), replace=False))
        p = fit_parameters(None, tg[tr], STEPS["prior"]); held = [maps[i] for i in te]
        res[name] = {}
        for g in GAMMAS:
            for w in WEIGHTS:
                s = score_pages(apply_parameters(lps[te], {**p, "gamma": g, "sigma": 0.0, "weight": w}), held)
                res[name][g, w] = (s["CC"], s["KLD"])
    print("maps-only weights (prior from 15 maps; CC / KLD on the scored half):")
    for name, r in res.items():
        others = [o for o in res if o != name]
        pick = min(r, key=lambda k: np.mean([res[o][k][1] for o in others]) if others else r[k][1])
        best = min(r, key=lambda k: r[k][1])
        print(f"  {name}: base alone {r[1.0, 0.0][0]:.3f} / {r[1.0, 0.0][1]:.3f}; base × prior (γ 1, w 1) {r[1.0, 1.0][0]:.3f} / {r[1.0, 1.0][1]:.3f}; "
              f"chosen on the other sets γ {pick[0]}, w {pick[1]}: {r[pick][0]:.3f} / {r[pick][1]:.3f}; its own best γ {best[0]}, w {best[1]}: {r[best][0]:.3f} / {r[best][1]:.3f}")
    allpick = min(next(iter(res.values())), key=lambda k: np.mean([res[o][k][1] for o in res]))
    print(f"  on all sets together: γ {allpick[0]}, w {allpick[1]}")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--attention", type=Path, default=project_root().parent / "shared" / "data" / "attention")
    ap.add_argument("--base", default="comicsal"); ap.add_argument("--sets", nargs="+", default=["fiwi", "gdi", "mit1003"])
    ap.add_argument("--mit-pages", type=int, default=150); ap.add_argument("--skip-curves", action="store_true")
    ap.add_argument("--base-for", nargs="*", default=[], metavar="SET=MODEL",
                    help="a base per set (leave one set out: a model trained without that set), else --base")
    ap.add_argument("--make-bases", type=Path, metavar="DIR",
                    help="leave one set out: train each set's base on the other sets into DIR (kept there) and use them")
    ap.add_argument("--train", action="store_true", help="also train --init BASE / from scratch / the centre bias on each set's fitting pages")
    a = ap.parse_args(); torch.set_num_threads(2)
    bases = {s: a.base for s in a.sets} | dict(kv.split("=", 1) for kv in a.base_for); data = {}
    if a.make_bases: bases |= make_bases(a.make_bases, a.attention, a.sets, a.mit_pages)
    for s in a.sets:
        t = time.perf_counter(); data[s] = load_set(a.attention / s, resolve_model(bases[s]), a.mit_pages if s == "mit1003" else 0)
        print(f"{s}: {len(data[s][2])} pages, base {bases[s]} run in {time.perf_counter() - t:.0f} s", flush=True)
    for s, d in data.items():
        if not a.skip_curves: curves(s, *d)
        if a.train: trained(s, bases[s], *d)
    maps_only(data)


if __name__ == "__main__":
    main()
