"""comicsal adapt: the command end to end on the sample and on the real AI4VA training maps; its refusals."""
import json

import numpy as np
import pytest
import torch
from commands import cli, no_traceback
from conftest import SHARED

from comicsal.adapt import STEPS, apply_parameters, fit_parameters, map_targets
from comicsal.data import load_map
from comicsal.models import load_model

AI4VA_MAPS = SHARED / "data" / "ai4va_maps" / "train"
needs_ai4va_maps = pytest.mark.skipif(not AI4VA_MAPS.is_dir(), reason=f"{AI4VA_MAPS} is absent (a fresh clone without the project's shared data)")


def test_adapt_data_writes_a_checkpoint_that_predicts(sample, tmp_path):
    code, out, err = cli("adapt", "--data", str(sample), "--from", "centre-bias", "--out", str(tmp_path / "ad"), "--folds", "3", "--no-progress")
    assert code == 0, err
    card = json.loads((tmp_path / "ad" / "card.json").read_text())
    assert card["mode"] == "data" and card["n"] == 10 and card["chosen"] in ("zero-shot", "calibration", "calibration+prior")
    assert set(card["cv"]) == {"zero-shot", "calibration", "calibration+prior"} and card["folds"] == 3
    rows = (tmp_path / "ad" / "cv.csv").read_text().splitlines()
    assert len(rows) == 1 + 3 * 3                      # a row per fold and candidate
    code, out, err = cli("predict", "--checkpoint", str(tmp_path / "ad" / "model.pt"), "--images", str(sample / "images" / "test"),
                         "--out", str(tmp_path / "pred"), "--no-progress")
    assert code == 0, err
    assert len(list((tmp_path / "pred").glob("*.png"))) == 2


def test_adapt_refuses_clearly(sample, tmp_path):
    code, out, err = cli("adapt", "--data", str(sample), "--from", "centre-bias", "--out", str(tmp_path / "ad"), "--folds", "1")
    assert code == 2 and "argument --folds" in err and "≥ 2" in err; no_traceback(err)
    code, out, err = cli("adapt", "--maps", str(tmp_path / "none"), "--out", str(tmp_path / "m"))
    assert code != 0 and "no such folder" in err; no_traceback(err)
    (tmp_path / "empty").mkdir()
    code, out, err = cli("adapt", "--maps", str(tmp_path / "empty"), "--out", str(tmp_path / "m"))
    assert code != 0 and "no map images" in err; no_traceback(err)
    assert cli("adapt", "--maps", str(sample / "maps" / "train"), "--from", "none", "--out", str(tmp_path / "m"), "--no-progress")[0] == 0
    code, out, err = cli("adapt", "--maps", str(sample / "maps" / "train"), "--from", "none", "--out", str(tmp_path / "m"))
    assert code != 0 and "--force" in err; no_traceback(err)


def test_fit_does_not_crash_when_the_blur_grows_past_the_grid():
    "A target flatter than any blur of the base drives σ up: the blur's kernel must stay inside the grid (torch crashed)."
    lps = torch.log_softmax(torch.randn(6, 64 * 64) * 6, 1).reshape(6, 64, 64)
    flat = torch.full((6, 64, 64), 1 / 64 ** 2)
    p = fit_parameters(lps, flat, STEPS["calibration"], steps=400)
    assert np.isfinite(p["loss"]) and (p["gamma"] < 0.5 or p["uniform"] > 0.5)    # it flattened the base, one way or another


@needs_ai4va_maps
def test_ai4va_prior_from_the_fifteen_training_maps(tmp_path):
    "The worked example: the prior fitted leave-one-map-out on the real maps puts more mass where the held-out map has it."
    maps = [load_map(p) for p in sorted(AI4VA_MAPS.glob("*.png"))]
    assert len(maps) == 15
    tg = map_targets(maps)
    ce_prior, ce_uniform = [], []
    for i in range(len(maps)):
        rest = [j for j in range(len(maps)) if j != i]
        lp = apply_parameters(None, fit_parameters(None, tg[rest], STEPS["prior"]))[0]
        ce_prior.append(float(-(tg[i] * lp).sum())); ce_uniform.append(float(np.log(64 * 64)))
    assert np.mean(ce_prior) < np.mean(ce_uniform) - 0.05
    code, out, err = cli("adapt", "--maps", str(AI4VA_MAPS), "--from", "none", "--out", str(tmp_path / "ai4va"), "--no-progress")
    assert code == 0, err
    m = load_model(tmp_path / "ai4va" / "model.pt")
    lp = m(torch.rand(1, 3, 96, 68))[0]
    assert torch.isfinite(lp).all() and abs(float(torch.logsumexp(lp.reshape(-1), 0))) < 1e-3


def test_adapt_pipeline_adapts_on_train_and_scores_on_val(sample, tmp_path):
    "`comicsal run adapt`: the recipe end to end — adapt on the train pages, a prior from maps, both scored on val against the base."
    from comicsal.runs import run_pipeline
    from comicsal.zoo import latest_run
    run = run_pipeline("adapt", {"data": str(sample), "maps": str(sample / "maps" / "train"), "base": "centre-bias", "folds": 3},
                       root=tmp_path, progress=False)
    card = json.loads((run / "model" / "card.json").read_text())
    assert card["n"] == 6 and card["fitted_on"].endswith("(train)")          # the val pages stay unseen
    assert json.loads((run / "maps-prior" / "card.json").read_text())["mode"] == "maps"
    m = json.loads((run / "metrics.json").read_text())
    assert {"protocol", "n", "means", "per_style"} <= set(m) and m["n"] == 4 and m["model"].startswith("adapted (")
    assert list(m["models"]) == ["base (centre-bias)", m["model"], "base × maps prior"]
    assert m["models"][m["model"]]["ai4va"]["means"] == m["means"]
    assert latest_run("adapt", tmp_path) == run and load_model(run / "model" / "model.pt").name == "adapted"


def test_readout_candidate_is_cross_validated_and_round_trips(sample, tmp_path):
    "A comicsal base brings the readout candidate; an adapted model with a refitted head saves and loads as it predicts."
    import comicsal.adapt as A
    from comicsal.adapt import READOUT_STEPS, adapt, fit_readout, readout_features, readout_log_densities
    from comicsal.data import discover
    from comicsal.models import save_checkpoint
    from comicsal.priors import AdaptedModel
    from comicsal.readout import ComicsalModel
    torch.manual_seed(0)
    base = ComicsalModel("none", long_side=128, pretrained=False)
    res = adapt(tmp_path / "ad", data=sample, base=base, folds=3, split="train", progress=False)
    assert set(res.cv) == {"zero-shot", "calibration", "calibration+prior", *(f"readout-{k}" for k in READOUT_STEPS),
                           *(f"readout-{k}+calibration+prior" for k in READOUT_STEPS)}
    assert (res.card["readout"] is not None) == res.chosen.startswith("readout-")
    if res.card["readout"]: assert res.card["readout"]["steps"] == A.Candidate.of(res.chosen).readout
    pages = discover(sample).split("train")
    feats = readout_features(base, [p.image for p in pages], progress=False)
    fitted = fit_readout(base, feats, [load_map(p.map) for p in pages])
    save_checkpoint(tmp_path / "m.pt", AdaptedModel(base_model=fitted))
    again = load_model(tmp_path / "m.pt")
    torch.testing.assert_close(readout_log_densities(again.base, feats), readout_log_densities(fitted, feats))
    assert not torch.allclose(readout_log_densities(base, feats), readout_log_densities(fitted, feats), atol=1e-3)


def test_stacked_candidate_fits_on_out_of_fold_densities(sample, tmp_path, monkeypatch):
    "Every page gets an out-of-fold readout density; a stacked choice averages the folds' heads and fits the numbers on top of them."
    import comicsal.adapt as A
    from comicsal.data import discover
    from comicsal.readout import ComicsalModel
    torch.manual_seed(0)
    base = ComicsalModel("none", long_side=128, pretrained=False)
    pages = discover(sample).split("train"); gts = [load_map(p.map) for p in pages]
    lps, feats = A.page_inputs(base, [p.image for p in pages], progress=False)
    oof, heads = {}, {}
    cv = A.cross_validate(lps, A.map_targets(gts), gts, 3, readout=(base, feats), oof=oof, heads=heads)
    assert sorted(oof) == sorted(A.READOUT_STEPS) and all(v.shape == lps.shape for v in oof.values())
    assert sorted(heads) == sorted(A.READOUT_STEPS) and all(len(v) == 3 for v in heads.values())
    for v in oof.values():    # a density for every page, each from a head that did not train on it (so not the base's)
        torch.testing.assert_close(torch.logsumexp(v.flatten(1), 1), torch.zeros(len(gts)), atol=1e-4, rtol=0)
        assert not torch.allclose(v, lps, atol=1e-4)
    assert all(len(cv[A.Candidate(k, A.STACKED).name]["KLD"]) == 3 for k in A.READOUT_STEPS)
    chosen = A.Candidate(10, A.STACKED).name
    monkeypatch.setattr(A, "choose", lambda cv: chosen)
    res = A.adapt(tmp_path / "st", data=sample, base=base, folds=3, split="train", progress=False)
    assert res.chosen == chosen and res.card["readout"]["steps"] == 10
    assert res.params["gamma"] != 1.0 and res.params["weight"] > 0          # the numbers were fitted, on top of the new head
    assert not torch.allclose(A.readout_log_densities(res.model.base, feats), A.readout_log_densities(base, feats), atol=1e-3)
    adapted = A.readout_log_densities(res.model.base, feats)      # the head is the mean of the folds' heads, not a refit on all pages
    torch.testing.assert_close(adapted, A.readout_log_densities(A.with_head(base, A.mean_head(heads[10])), feats))
    assert not torch.allclose(adapted, A.readout_log_densities(A.fit_readout(base, feats, gts, 10), feats), atol=1e-4)
