"""Slow, obviously-correct reference implementations, written from the published definitions (the MIT saliency
benchmark's MATLAB code, Bylinskii et al. 2019) and from the AI4VA scoring program's description. Loops on
purpose: they are the yardstick for comicsal.metrics, never used by it."""
import math

import numpy as np
from scipy.stats import entropy

EPS = 2.2204e-16


def mat2gray(s):
    s = np.asarray(s, float)
    lo, hi = s.min(), s.max()
    return (s - lo) / (hi - lo) if hi > lo else np.zeros_like(s)


def auc_judd_loop(sal, fixmask):
    "MIT AUC_Judd.m without jitter: one threshold per fixation, a full pass over the map each."
    S = mat2gray(sal).ravel(); F = np.asarray(fixmask, bool).ravel()
    Sth = sorted(S[F], reverse=True)
    Nfix, Npix = len(Sth), len(S)
    tp, fp = [0.0], [0.0]
    for i, t in enumerate(Sth, 1):
        above = sum(1 for v in S if v >= t)
        tp.append(i / Nfix); fp.append((above - i) / (Npix - Nfix))
    tp.append(1.0); fp.append(1.0)
    return float(np.trapezoid(tp, fp))


def ai4va_auc_loop(pred, gt, rng):
    "The challenge program's AUC as specified: gt > 0 are fixations; jitter 1e-7 then min-max; loop per fixation."
    s = np.asarray(pred, float).copy()
    s = s + rng.random(s.shape) * 1e-7
    s = mat2gray(s)
    S = s.ravel(); F = np.asarray(gt).ravel() > 0
    Sth = np.sort(S[F])[::-1]
    n_fix, n_px = len(Sth), len(S)
    tp = np.zeros(n_fix + 2); fp = np.zeros(n_fix + 2); tp[-1] = fp[-1] = 1
    for k, t in enumerate(Sth):
        above = np.sum(S >= t)
        tp[k + 1] = (k + 1) / n_fix
        fp[k + 1] = (above - k - 1) / (n_px - n_fix)
    return float(np.trapezoid(tp, fp))


def borji_loop(sal, fixmask, rng, n_splits=100, step=0.1):
    "MIT AUC_Borji.m (negatives drawn as comicsal draws them, so the two can be compared draw for draw)."
    S = mat2gray(sal); flat = S.ravel(); Sth = S[np.asarray(fixmask, bool)]
    aucs = []
    for _ in range(n_splits):
        cur = flat[rng.integers(0, flat.size, len(Sth))]
        aucs.append(_step_auc_loop(Sth, cur, step))
    return float(np.mean(aucs))


def sauc_loop(sal, fixmask, othermask, rng, n_splits=100, step=0.1):
    S = mat2gray(sal); Sth = S[np.asarray(fixmask, bool)]; oth = S[np.asarray(othermask, bool)]
    k = min(len(Sth), len(oth))
    return float(np.mean([_step_auc_loop(Sth, oth[rng.integers(0, len(oth), k)], step) for _ in range(n_splits)]))


def _step_auc_loop(pos, neg, step):
    top = max(max(pos), max(neg))
    ths = []
    t = 0.0; i = 0
    while i * step <= top + step * 1e-9:
        ths.append(i * step); i += 1
    ths = ths[::-1]
    tp, fp = [0.0], [0.0]
    for t in ths:
        tp.append(sum(1 for v in pos if v >= t) / len(pos))
        fp.append(sum(1 for v in neg if v >= t) / len(neg))
    tp.append(1.0); fp.append(1.0)
    return float(np.trapezoid(tp, fp))


def mann_whitney(pos, neg):
    "P(pos > neg) + 0.5 P(pos == neg), by brute force."
    wins = 0.0
    for p in pos:
        for n in neg:
            wins += 1.0 if p > n else 0.5 if p == n else 0.0
    return wins / (len(pos) * len(neg))


def cc_loop(a, b):
    a = list(np.ravel(a).astype(float)); b = list(np.ravel(b).astype(float))
    ma, mb = sum(a) / len(a), sum(b) / len(b)
    num = sum((x - ma) * (y - mb) for x, y in zip(a, b))
    den = math.sqrt(sum((x - ma) ** 2 for x in a) * sum((y - mb) ** 2 for y in b))
    return num / den


def kld_loop(pred, gt):
    p = np.ravel(pred).astype(float); g = np.ravel(gt).astype(float)
    p = p / p.sum(); g = g / g.sum()
    return sum(gi * math.log(EPS + gi / (pi + EPS)) for pi, gi in zip(p, g))


def sim_loop(pred, gt):
    p = mat2gray(pred).ravel(); g = mat2gray(gt).ravel()
    p = p / p.sum(); g = g / g.sum()
    return sum(min(x, y) for x, y in zip(p, g))


def nss_loop(sal, fixmask):
    s = np.asarray(sal, float); m = np.asarray(fixmask, bool)
    z = (s - s.mean()) / s.std()
    vals = [z[i, j] for i in range(s.shape[0]) for j in range(s.shape[1]) if m[i, j]]
    return sum(vals) / len(vals)


def ig_loop(sal, fixmask, base):
    p = np.asarray(sal, float); p = p / p.sum(); b = np.asarray(base, float); b = b / b.sum()
    m = np.asarray(fixmask, bool)
    vals = [math.log2(EPS + p[i, j]) - math.log2(EPS + b[i, j])
            for i in range(p.shape[0]) for j in range(p.shape[1]) if m[i, j]]
    return sum(vals) / len(vals)


def ai4va_others(pred, gt):
    "SIM, CC, KLD as the scoring program computes them (DESIGN.md)."
    p = mat2gray(pred); g = mat2gray(gt)
    sim = float(np.minimum(p / p.sum(), g / g.sum()).sum())
    P, G = np.asarray(pred, float), np.asarray(gt, float)
    a = (P - P.mean()) / (P.std() + 1e-7); b = (G - G.mean()) / (G.std() + 1e-7)
    cc = float(np.sum(a * b) / (np.sqrt(np.sum(a * a) * np.sum(b * b)) + 1e-7))
    pp = np.clip(P / P.sum(), 1e-10, None); gg = G / G.sum()
    kld = float(entropy(gg.ravel(), pp.ravel()))
    return dict(SIM=sim, CC=cc, KLD=kld)


def ai4va_program(pred_paths, gt_paths, rngs, size=512):
    "The scoring program end to end (given explicitly paired paths and one jitter generator per page)."
    from skimage import io
    from skimage.transform import resize
    rows = []
    for pp, gp, rng in zip(pred_paths, gt_paths, rngs):
        p = resize(io.imread(pp, as_gray=True), (size, size), anti_aliasing=True)
        g = resize(io.imread(gp, as_gray=True), (size, size), anti_aliasing=True)
        rows.append(dict(AUC=ai4va_auc_loop(p, g, rng), **ai4va_others(p, g)))
    return {k: float(np.mean([r[k] for r in rows])) for k in rows[0]}
