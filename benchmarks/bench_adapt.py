"""Adaptation on the real eye-tracking sets: learning curves and the maps-only weights. Prints figures, asserts nothing.

    .venv/bin/python benchmarks/bench_adapt.py [--base comicsal] [--sets fiwi gdi mit1003] [--mit-pages 150]

For each set (under ../shared/data/attention) the pages are split in half at random (seed 1): the second half is
scored, fitting pages are drawn from the first (N = 5, 15, 50 and all of it; three draws below all). Rows: the base
as it is (zero-shot), the calibration, the calibration with the prior, the prior alone, and what `adapt` would choose by
5-fold cross-validation over the N fitting pages. Scores: the `ai4va` protocol on the 8-bit maps `predict` writes
(CC, KLD; mean over the scored pages). Then the maps-only weights: the prior fitted on 15 maps alone, combined with the
base at each (γ, w) of a grid; for each set the pair chosen on the *other* sets (leave one set out) is scored.
"""
import argparse
import time
from pathlib import Path

import numpy as np
import torch

from comicsal.adapt import STEPS, apply_parameters, base_log_densities, choose, cross_validate, fit_parameters, map_targets, score_pages
from comicsal.config import project_root
from comicsal.data import discover, load_map
from comicsal.zoo import resolve_model


def load_set(root: Path, base, n_max: int):
    pages = sorted((p for p in discover(root).pages if p.map is not None), key=lambda p: p.stem)
    if n_max and len(pages) > n_max: pages = [pages[i] for i in sorted(np.random.default_rng(0).permutation(len(pages))[:n_max])]
    maps = [load_map(p.map) for p in pages]
    return base_log_densities(base, [p.image for p in pages], progress=False), map_targets(maps), maps


def curves(name, lps, tg, maps):
    n = len(maps); perm = np.random.default_rng(1).permutation(n); te, pool = np.sort(perm[: n // 2]), perm[n // 2:]
    held = [maps[i] for i in te]
    z = score_pages(lps[te], held)
    print(f"{name}: {len(te)} scored pages; zero-shot CC {z['CC']:.3f} KLD {z['KLD']:.3f}")
    for N in sorted({N for N in (5, 15, 50) if N < len(pool)} | {len(pool)}):
        acc = {}
        for rep in range(3 if N < len(pool) else 1):
            tr = np.sort(np.random.default_rng(10 + rep).choice(pool, N, replace=False))
            row = {c: score_pages(apply_parameters(lps[te], fit_parameters(lps[tr], tg[tr], STEPS[c])), held) for c in ("calibration", "calibration+prior")}
            row["prior alone"] = score_pages(apply_parameters(None, fit_parameters(None, tg[tr], STEPS["prior"])).expand(len(te), -1, -1), held)
            ch = choose(cross_validate(lps[tr], tg[tr], [maps[i] for i in tr], 5)); row["adapt (CV choice)"] = row.get(ch, z)
            for k, v in row.items(): acc.setdefault(k, []).append(v)
        print(f"  N={N:<4}" + " | ".join(f"{k} CC {np.mean([v['CC'] for v in r]):.3f} KLD {np.mean([v['KLD'] for v in r]):.3f}" for k, r in acc.items()))


GAMMAS, WEIGHTS = (0.25, 0.5, 0.75, 1.0), (0.0, 0.5, 1.0, 1.5)


def maps_only(data: dict):
    "{set: {(γ, w): (CC, KLD)}} with the prior from 15 maps of the first half, scored on the second half."
    res = {}
    for name, (lps, tg, maps) in data.items():
        n = len(maps); perm = np.random.default_rng(1).permutation(n); te, pool = np.sort(perm[: n // 2]), perm[n // 2:]
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
    a = ap.parse_args(); torch.set_num_threads(2)
    base = resolve_model(a.base); data = {}
    for s in a.sets:
        t = time.perf_counter(); data[s] = load_set(a.attention / s, base, a.mit_pages if s == "mit1003" else 0)
        print(f"{s}: {len(data[s][2])} pages, base {a.base} run in {time.perf_counter() - t:.0f} s")
    if not a.skip_curves:
        for s, d in data.items(): curves(s, *d)
    maps_only(data)


if __name__ == "__main__":
    main()
