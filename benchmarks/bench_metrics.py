"""Speed of the metrics on 512×512 pairs, and the ai4va AUC against the scoring program's loop.
Prints figures, asserts nothing.

    .venv/bin/python benchmarks/bench_metrics.py [--repeat 5] [--skip-loop]
"""
import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
import reference_metrics as ref  # noqa: E402  (the slow reference loops live with the tests)

from comicsal import metrics as M  # noqa: E402
from comicsal.synth import synth_page


def timeit(f, repeat):
    best = float("inf")
    for _ in range(repeat):
        t = time.perf_counter(); f(); best = min(best, time.perf_counter() - t)
    return best


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--skip-loop", action="store_true", help="skip the ~40 s reference loop")
    a = ap.parse_args()
    pg = synth_page(0, "val", 1)                                   # a 512×512 8-bit map, as the challenge's
    gt = M.ai4va_resize(pg.map.astype(float) / 255)
    pred = M.ai4va_resize(np.round(M.centre_bias((512, 512)) * 255) / 255)   # an 8-bit prediction: many ties
    fix = M.fixations_from_map(gt, "peaks"); other = M.fixations_from_map(np.flipud(gt), "peaks")
    base = M.centre_bias(gt.shape)
    print(f"512×512 pair; {int((gt > 0).sum())} GT pixels > 0, {int(fix.sum())} peak fixations; best of {a.repeat}")
    cases = {
        "ai4va AUC (all GT>0 pixels)": lambda: M.auc_ai4va(pred, gt, np.random.default_rng(0)),
        "ai4va CC": lambda: M.cc_ai4va(pred, gt),
        "ai4va KLD": lambda: M.kld_ai4va(pred, gt),
        "SIM": lambda: M.sim(pred, gt),
        "CC": lambda: M.cc(pred, gt),
        "KLD": lambda: M.kld(pred, gt),
        "NSS": lambda: M.nss(pred, fix),
        "AUC-Judd (peaks)": lambda: M.auc_judd(pred, fix),
        "AUC-Judd (all GT>0)": lambda: M.auc_judd(pred, gt > 0),
        "AUC-Borji (100 splits)": lambda: M.auc_borji(pred, fix),
        "sAUC (100 splits)": lambda: M.sauc(pred, fix, other),
        "IG": lambda: M.info_gain(pred, fix, base),
        "fixations_from_map peaks": lambda: M.fixations_from_map(gt, "peaks"),
        "whole ai4va page (resize+4)": lambda: M.score_ai4va(pg.map.astype(float) / 255, pg.map.astype(float) / 255),
        "whole mit page (8 metrics)": lambda: M.score_mit(pred, gt, other_fix=other),
    }
    for name, f in cases.items():
        print(f"  {name:<30} {timeit(f, a.repeat) * 1000:8.2f} ms")
    aucs = [M.auc_ai4va(pred, gt, np.random.default_rng(s)) for s in range(20)]
    print(f"ai4va AUC over 20 jitter seeds: mean {np.mean(aucs):.6f}, spread (max-min) {np.ptp(aucs):.2e}")
    if not a.skip_loop:
        t = time.perf_counter(); slow = ref.ai4va_auc_loop(pred, gt, np.random.default_rng(0)); t_loop = time.perf_counter() - t
        t_fast = timeit(lambda: M.auc_ai4va(pred, gt, np.random.default_rng(0)), a.repeat)
        fast = M.auc_ai4va(pred, gt, np.random.default_rng(0))
        print(f"scoring-program AUC loop: {t_loop:.1f} s; comicsal: {t_fast * 1000:.1f} ms; "
              f"speed-up {t_loop / t_fast:.0f}×; |difference| with the same jitter {abs(slow - fast):.1e}")


if __name__ == "__main__":
    main()
