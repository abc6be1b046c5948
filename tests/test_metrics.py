"""comicsal.metrics: agreement with reference loops and pysaliency, properties, and evaluate's edge cases and refusals."""
import importlib.util
import json
import math
import sys
import types
from pathlib import Path

import numpy as np
import pytest
import reference_metrics as ref
from commands import cli, corrupt, no_traceback
from conftest import ATT, needs_attention
from hypothesis import assume, given, settings, strategies as st
from hypothesis.extra.numpy import arrays
from PIL import Image
from scipy.ndimage import gaussian_filter
from scipy.stats import rankdata

from comicsal.config import ComicsalError
from comicsal.metrics import (
    PROTOCOLS,
    _auc_step,
    _stem_seed,
    ai4va_resize,
    auc_ai4va,
    auc_borji,
    auc_judd,
    cc,
    cc_ai4va,
    centre_bias,
    evaluate,
    fixations_from_map,
    info_gain,
    kld,
    kld_ai4va,
    nss,
    sauc,
    score_ai4va,
    score_mit,
    sim,
)


def blobs(seed, shape=(24, 32), n=4, sigma=2.0):
    rng = np.random.default_rng(seed)
    m = np.zeros(shape)
    m[rng.integers(0, shape[0], n), rng.integers(0, shape[1], n)] = rng.random(n) + 0.5
    return gaussian_filter(m, sigma)


def fixmask(seed, shape=(24, 32), n=12):
    rng = np.random.default_rng(seed + 1000)
    m = np.zeros(shape, bool)
    m[rng.integers(0, shape[0], n), rng.integers(0, shape[1], n)] = True
    return m


# -- agreement with the reference loops ----------------------------------------------------------------------------

@pytest.mark.parametrize("seed", range(6))
def test_against_reference_loops(seed):
    rng = np.random.default_rng(seed)
    pred = rng.random((24, 32)) ** 3            # continuous: no ties
    gt, fx = blobs(seed), fixmask(seed)
    assert auc_judd(pred, fx) == pytest.approx(ref.auc_judd_loop(pred, fx), abs=1e-12)
    assert cc(pred, gt) == pytest.approx(ref.cc_loop(pred, gt), abs=1e-12)
    assert kld(pred, gt) == pytest.approx(ref.kld_loop(pred, gt), abs=1e-12)
    assert sim(pred, gt) == pytest.approx(ref.sim_loop(pred, gt), abs=1e-12)
    assert nss(pred, fx) == pytest.approx(ref.nss_loop(pred, fx), abs=1e-12)
    base = centre_bias(pred.shape)
    assert info_gain(pred, fx, base) == pytest.approx(ref.ig_loop(pred, fx, base), abs=1e-12)
    assert auc_borji(pred, fx, n_splits=20, rng=np.random.default_rng(7)) == pytest.approx(
        ref.borji_loop(pred, fx, np.random.default_rng(7), n_splits=20), abs=1e-12)
    other = fixmask(seed + 50)
    assert sauc(pred, fx, other, n_splits=20, rng=np.random.default_rng(3)) == pytest.approx(
        ref.sauc_loop(pred, fx, other, np.random.default_rng(3), n_splits=20), abs=1e-12)


@pytest.mark.parametrize("seed", range(3))
def test_exact_roc_is_mann_whitney(seed):
    rng = np.random.default_rng(seed)
    pos = np.round(rng.random(30), 1); neg = np.round(rng.random(40) * 0.8, 1)     # many ties
    assert _auc_step(pos, neg, None) == pytest.approx(ref.mann_whitney(pos, neg), abs=1e-12)


def test_judd_ties_are_exact():
    "With ties, thresholds group equal values: a map constant on the fixations and elsewhere scores exactly."
    s = np.zeros((10, 10)); s[:5] = 1
    f = np.zeros((10, 10), bool); f[0, :4] = True; f[9, :4] = True      # half the fixations on the 1s
    # thresholds 1 and 0: TP 0.5 at FP 46/92, then (1, 1)
    tp, fp = [0, 0.5, 1, 1], [0, 46 / 92, 1, 1]
    assert auc_judd(s, f) == pytest.approx(np.trapezoid(tp, fp), abs=1e-15)


@pytest.mark.parametrize("seed", range(4))
def test_ai4va_auc_equals_the_program_loop_with_the_same_jitter(seed):
    g = ai4va_resize(blobs(seed, (48, 48), n=6, sigma=3) * (np.random.default_rng(seed).random((48, 48)) > 0.3), 64)
    p = ai4va_resize(blobs(seed + 9, (48, 48), n=5, sigma=4), 64)
    fast = auc_ai4va(p, g, np.random.default_rng(seed))
    slow = ref.ai4va_auc_loop(p, g, np.random.default_rng(seed))
    assert fast == pytest.approx(slow, abs=1e-12)


def test_ai4va_other_metrics_equal_the_program(seed=3):
    g = ai4va_resize(blobs(seed, (40, 30)), 64); p = ai4va_resize(blobs(seed + 1, (50, 50)), 64)
    r = ref.ai4va_others(p, g)
    assert sim(p, g) == pytest.approx(r["SIM"], abs=1e-12)
    assert cc_ai4va(p, g) == pytest.approx(r["CC"], abs=1e-12)
    assert kld_ai4va(p, g) == pytest.approx(r["KLD"], abs=1e-12)


def _write_pages(d: Path, maps: dict, ext=".png"):
    d.mkdir(parents=True, exist_ok=True)
    for stem, m in maps.items():
        Image.fromarray((np.clip(m / m.max(), 0, 1) * 255).astype(np.uint8)).save(d / f"{stem}{ext}")


def test_evaluate_reproduces_the_scoring_program(tmp_path):
    """Files on disk, paired by stem, read and resized as the program does. With the program's jitter drawn from
    the same generators, every number agrees to float precision; with other draws, AUC moves only by the jitter
    (on these 96×96 maps of 8-bit values, ties are many; the benchmark measures the spread at 512×512)."""
    stems = [f"placid_muzo_{i}" for i in range(3)] + [f"yves_le_loup_{i}" for i in range(3)]
    gts = {s: blobs(i, (90, 60), n=8, sigma=4) for i, s in enumerate(stems)}
    for s in gts: gts[s][gts[s] < gts[s].max() * 0.02] = 0
    preds = {s: blobs(i + 100, (120, 80), n=5, sigma=6) + 0.05 for i, s in enumerate(stems)}
    _write_pages(tmp_path / "gt", gts); _write_pages(tmp_path / "pred", preds, ".jpg")
    res = evaluate(tmp_path / "pred", tmp_path / "gt", "ai4va", progress=False, ai4va_size=96, seed=5)
    got = res.summary()["means"]
    paths = ([tmp_path / "pred" / f"{s}.jpg" for s in sorted(stems)], [tmp_path / "gt" / f"{s}.png" for s in sorted(stems)])
    same = ref.ai4va_program(*paths, [_stem_seed(5, s) for s in sorted(stems)], size=96)
    for k in ("AUC", "CC", "KLD", "SIM"):
        assert got[k] == pytest.approx(same[k], abs=1e-9), k
    other = ref.ai4va_program(*paths, [np.random.default_rng(i) for i in range(6)], size=96)
    assert got["AUC"] == pytest.approx(other["AUC"], abs=3e-3)
    assert res.summary()["per_style"]["toon"]["n"] == 3


# -- properties ----------------------------------------------------------------------------------------------------

maps = arrays(np.float64, (8, 10), elements=st.floats(0, 1, allow_nan=False, width=32))


@settings(max_examples=60, deadline=None)
@given(p=maps, g=maps, a=st.floats(0.01, 100), b=st.floats(-10, 10))
def test_cc_invariant_to_positive_affine(p, g, a, b):
    assume(p.std() > 1e-3 and g.std() > 1e-3)
    assert cc(a * p + b, g) == pytest.approx(cc(p, g), abs=1e-9)
    assert nss(a * p + b, g > 0.5) == pytest.approx(nss(p, g > 0.5), abs=1e-6) if (g > 0.5).any() else True


@settings(max_examples=60, deadline=None)
@given(p=maps, g=maps, seed=st.integers(0, 100))
def test_aucs_invariant_to_increasing_transforms(p, g, seed):
    f = g > 0.6
    assume(f.any() and (~f).any())
    for t in (lambda x: x ** 3, lambda x: np.exp(3 * x), lambda x: np.log1p(x) * 5 + 2):
        q = t(p)
        # strictly increasing in floating point too (x**3 can underflow two values into a tie)
        assume(np.array_equal(rankdata(q, method="dense"), rankdata(p, method="dense")))
        assert auc_judd(q, f) == pytest.approx(auc_judd(p, f), abs=1e-9)
        assert auc_borji(q, f, n_splits=5, step=None, rng=np.random.default_rng(seed)) == pytest.approx(
            auc_borji(p, f, n_splits=5, step=None, rng=np.random.default_rng(seed)), abs=1e-9)
        o = g < 0.3
        if o.any():
            assert sauc(q, f, o, n_splits=5, step=None, rng=np.random.default_rng(seed)) == pytest.approx(
                sauc(p, f, o, n_splits=5, step=None, rng=np.random.default_rng(seed)), abs=1e-9)


@settings(max_examples=60, deadline=None)
@given(p=maps, g=maps)
def test_kld_nonnegative_sim_bounded(p, g):
    assume(g.sum() > 0)
    assert kld(p, g) >= -1e-12 and kld_ai4va(p, g) >= -1e-12
    assert -1e-12 <= sim(p, g) <= 1 + 1e-12
    assert -1 - 1e-9 <= cc(p, g) <= 1 + 1e-9


def test_analytic_cases():
    g = blobs(1)
    assert cc(g, g) == pytest.approx(1) and kld(g, g) == pytest.approx(0, abs=1e-12) and sim(g, g) == pytest.approx(1)
    f = fixmask(1)
    assert auc_judd(np.full(g.shape, 0.3), f) == 0.5
    assert auc_borji(np.full(g.shape, 0.3), f) == pytest.approx(0.5)
    for m in (np.zeros(g.shape), np.full(g.shape, 7.0)):       # defined values, never NaN
        r = score_mit(m, g)
        assert not any(math.isnan(v) for k, v in r.items() if k != "sAUC"), r
        r = score_ai4va(m, g, size=32)
        assert not any(math.isnan(v) for v in r.values()), r
    assert all(math.isnan(v) for k, v in score_mit(g, np.zeros(g.shape)).items() if k not in ("CC",))


def test_fixation_rules():
    g = blobs(2, (40, 40), n=3, sigma=2)
    pk = fixations_from_map(g, "peaks")
    assert 1 <= pk.sum() <= 3 and all(g[tuple(ix)] > 0.1 * g.max() for ix in np.argwhere(pk))
    assert fixations_from_map(g, "sample", n=50, rng=np.random.default_rng(0)).sum() <= 50
    with pytest.raises(ValueError, match="unknown fixation rule"):
        fixations_from_map(g, "mean")


# -- pysaliency ----------------------------------------------------------------------------------------------------

def _pysaliency():
    "pysaliency's metrics and roc modules without its package __init__ (which needs the removed pkg_resources)."
    if "pysaliency" not in sys.modules:
        spec = importlib.util.find_spec("pysaliency")
        if spec is None: pytest.skip("pysaliency is not installed (optional; .ci/run installs it when it builds)")
        pkg = types.ModuleType("pysaliency"); pkg.__path__ = list(spec.submodule_search_locations)
        sys.modules["pysaliency"] = pkg
    import pysaliency.metrics as pm
    import pysaliency.roc as roc
    if not hasattr(np, "trapz"): np.trapz = np.trapezoid   # pysaliency 0.2.22 predates numpy 2.4
    return pm, roc


@pytest.mark.parametrize("seed", range(3))
def test_cross_check_with_pysaliency(seed):
    pm, roc = _pysaliency()
    rng = np.random.default_rng(seed)
    pred = rng.random((24, 32)) ** 2; pred -= pred.min()
    gt = blobs(seed); gt -= gt.min(); fx = fixmask(seed)
    ys, xs = np.nonzero(fx)
    assert cc(pred, gt) == pytest.approx(pm.CC(pred, gt), abs=1e-10)
    assert nss(pred, fx) == pytest.approx(np.mean(pm.NSS(pred, xs, ys)), abs=1e-10)
    assert sim(pred, gt) == pytest.approx(pm.SIM(pred, gt), abs=1e-10)
    assert kld(pred, gt) == pytest.approx(pm.MIT_KLDiv(pred, gt), abs=1e-10)
    pos, neg = pred[fx], pred[~fx]
    assert _auc_step(pos, neg, None) == pytest.approx(roc.general_roc(pos, neg)[0], abs=1e-10)


# -- evaluate ------------------------------------------------------------------------------------------------------

def test_evaluate_pairs_by_stem_and_reports_missing_and_extra(tmp_path):
    gts = {f"p{i}": blobs(i) for i in range(4)}
    _write_pages(tmp_path / "gt", gts)
    _write_pages(tmp_path / "pred", {s: gts[s] for s in ["p3", "p0", "p2", "p1"]})   # identical maps
    for proto in PROTOCOLS:
        s = evaluate(tmp_path / "pred", tmp_path / "gt", proto, progress=False).summary()
        assert s["means"]["CC"] == pytest.approx(1, abs=1e-6), proto
    (tmp_path / "pred/p2.png").unlink()
    (tmp_path / "pred/p1.png").unlink()
    with pytest.raises(ComicsalError, match=r"2 ground-truth page\(s\) have no prediction.*p1, p2"):
        evaluate(tmp_path / "pred", tmp_path / "gt", progress=False)
    _write_pages(tmp_path / "pred", {"p1": gts["p1"], "p2": gts["p2"], "stray": gts["p0"]})
    with pytest.warns(UserWarning, match="1 prediction.*stray"):
        evaluate(tmp_path / "pred", tmp_path / "gt", progress=False)


def test_evaluate_sizes_modes_and_empty_gt(tmp_path):
    gts = {"a": blobs(1, (60, 40)), "b": blobs(2, (60, 40)), "empty": np.zeros((60, 40))}
    (tmp_path / "gt").mkdir()
    for s, m in gts.items():
        Image.fromarray((m / (m.max() or 1) * 255).astype(np.uint8)).save(tmp_path / "gt" / f"{s}.png")
    (tmp_path / "pred").mkdir()
    for s, m in gts.items():   # RGB predictions at another size and aspect
        big = np.kron(m, np.ones((3, 5)))
        v = (big / (big.max() or 1) * 255).astype(np.uint8)
        Image.fromarray(np.dstack([v, v, v])).save(tmp_path / "pred" / f"{s}.jpg")
    for proto in PROTOCOLS:
        res = evaluate(tmp_path / "pred", tmp_path / "gt", proto, progress=False)
        s = res.summary()
        assert s["n"] == 2 and s["excluded"] == [{"stem": "empty", "reason": "empty ground truth"}]
        assert s["means"]["CC"] > 0.9, s
        assert all(v is None or not math.isnan(v) for v in s["means"].values())
        out = res.write(tmp_path / f"out-{proto}")
        js = json.loads((out / "metrics.json").read_text())
        assert {"protocol", "n", "means", "per_style"} <= set(js)
        assert (out / "per_image.csv").read_text().splitlines()[0].startswith("stem,style,")


def test_evaluate_seeded_and_page_independent(sample):
    a = evaluate("centre", sample, "mit", progress=False, seed=1).rows
    b = evaluate("centre", sample, "mit", progress=False, seed=1).rows
    assert a == b
    c = evaluate("centre", sample, "ai4va", progress=False, seed=1).rows
    d = evaluate("centre", sample, "ai4va", progress=False, seed=2).rows
    assert [r["CC"] for r in c] == [r["CC"] for r in d]
    assert [r["AUC"] for r in c] == pytest.approx([r["AUC"] for r in d], abs=1e-4)


@needs_attention
def test_mit_protocol_uses_recorded_fixations():
    r = evaluate("centre", ATT / "fiwi", "mit", progress=False)
    assert r.meta["fixations"].startswith("recorded (4 pages)")
    r = evaluate("centre", ATT / "gdi", "mit", progress=False)
    assert r.meta["fixations"] == "peaks"                                    # importance maps: no fixations


# -- careless input: unreadable and NaN predictions, values out of range, --out, warnings, CSV ---------------------

def test_evaluate_scores_the_readable_pages_and_names_the_rest(sample_copy, tmp_path):
    pred = tmp_path / "pred"
    cli("predict", "--model", "centre-bias", "--images", sample_copy, "--split", "val", "--out", pred,
        "--like", sample_copy / "maps" / "val", "--no-progress")
    bad = sorted(pred.glob("*.png"))[0]
    corrupt(bad)
    rc, out, err = cli("evaluate", "--pred", pred, "--gt", sample_copy, "--out", tmp_path / "ev", "--no-progress")
    assert rc == 1 and bad.name in err, err
    no_traceback(err)
    import json
    m = json.loads((tmp_path / "ev" / "metrics.json").read_text())
    assert m["n"] == len(list(pred.glob("*.png"))) - 1 and [f["stem"] for f in m["failed"]] == [bad.stem]


def test_metrics_out_of_range_never_reach_a_file(tmp_path):
    from comicsal.metrics import EvalResult
    res = EvalResult("ai4va", [{"stem": "a", "style": "toon", "AUC": -2.11, "CC": 0.1, "KLD": 1.0, "SIM": 0.2}])
    with pytest.raises(ComicsalError, match="outside"):
        res.write(tmp_path / "ev")
    assert not (tmp_path / "ev" / "metrics.json").exists()


def test_nan_predictions_are_not_scored(sample):
    from comicsal.metrics import evaluate
    res = evaluate(lambda stem, shape: np.full(shape, np.nan), sample, "ai4va", progress=False)
    assert res.rows == [] and len(res.failed) == 4 and "NaN" in res.failed[0]["reason"]


def test_unwritable_evaluate_out_is_found_before_scoring(sample, tmp_path, monkeypatch):
    import comicsal.metrics
    def never(*a, **k): raise AssertionError("scored before checking --out")
    monkeypatch.setattr(comicsal.metrics, "evaluate", never)
    blocker = tmp_path / "file"; blocker.write_text("x")
    rc, _, err = cli("evaluate", "--reference", "centre", "--gt", sample, "--out", blocker / "ev", "--no-progress")
    assert rc == 1 and "cannot be written" in err, err
    no_traceback(err)


def test_evaluate_warns_once_about_resizing_and_self_scoring(sample, tmp_path):
    rc, out, err = cli("predict", "--model", "centre-bias", "--images", sample, "--split", "val", "--out", tmp_path / "p", "--no-progress")
    rc, out, err = cli("evaluate", "--pred", tmp_path / "p", "--gt", sample, "--out", tmp_path / "ev", "--no-progress")
    assert rc == 0 and err.count("comicsal: warning:") == 1 and "resized" in err, err
    rc, out, err = cli("evaluate", "--pred", sample / "maps" / "val", "--gt", sample, "--out", tmp_path / "ev2", "--no-progress")
    assert rc == 0 and "ground-truth folder itself" in err, err


def test_per_image_csv_line_ends_and_empty_cells(tmp_path):
    from comicsal.metrics import EvalResult
    rows = [{"stem": "a", "style": "toon", "AUC": 0.8, "CC": 0.3, "KLD": 1.0, "SIM": 0.4},
            {"stem": "b", "style": "toon", "AUC": math.nan, "CC": 0.2, "KLD": 1.1, "SIM": 0.3}]   # AUC undefined
    EvalResult("ai4va", rows).write(tmp_path / "ev")
    raw = (tmp_path / "ev" / "per_image.csv").read_bytes()
    assert b"\r\n" not in raw and b"nan" not in raw.lower()
    assert raw.splitlines()[2] == b"b,toon,,0.2,1.1,0.3"
