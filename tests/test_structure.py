"""Comic structure: panel and text detection against the synthetic answer key, priors, structure channels."""
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from comicsal.data import discover
from comicsal.structure import (PanelPriorModel, StructurePriorModel, TextPriorModel, detect_panels, detect_text,
                                match_boxes)
from comicsal.synth import synth_page
from comicsal.train import TrainConfig, train

BIN = Path(sys.executable).parent


def _pr(counts):
    tp, fp, fn = counts
    return tp / max(1, tp + fp), tp / max(1, tp + fn)


def test_detection_precision_recall_on_synthetic_pages():
    "Panels and text regions at IoU 0.5 over 24 pages of both styles (titles, borderless panels, yellowed paper)."
    panels, text = np.zeros(3, int), np.zeros(3, int)
    for i in range(24):
        pg = synth_page(7, "val", i)
        img = pg.image.astype(np.float32) / 255
        panels += match_boxes(detect_panels(img), [p["box"] for p in pg.layout["panels"]])
        text += match_boxes(detect_text(img).boxes, [b["box"] for b in pg.layout["balloons"] + pg.layout["captions"]])
    (pp, pr), (tp, tr) = _pr(panels), _pr(text)
    print(f"panels P {pp:.2f} R {pr:.2f}; text P {tp:.2f} R {tr:.2f}")
    assert pp >= 0.85 and pr >= 0.85 and tp >= 0.9 and tr >= 0.85


def test_panels_come_in_reading_order():
    for i in range(6):
        pg = synth_page(3, "val", i)
        found = detect_panels(pg.image.astype(np.float32) / 255)
        truth = [p["box"] for p in pg.layout["panels"]]
        # map each found panel to its best-matching truth panel; their order must be the drawn (reading) order
        from comicsal.structure import iou
        idx = [max(range(len(truth)), key=lambda j: iou(f, truth[j])) for f in found if max(iou(f, t) for t in truth) > 0.5]
        assert idx == sorted(idx), (i, idx)


def test_blank_and_tiny_pages():
    assert detect_panels(np.ones((50, 40, 3), np.float32)) == []
    assert detect_text(np.ones((50, 40, 3), np.float32)).boxes == []


def test_panel_prior_beats_the_centre_bias_on_the_sample(sample, tmp_path):
    res = {m: train(TrainConfig(data=str(sample), model=m), tmp_path / m, progress=False)
           for m in ("centre-bias", "panel-prior", "text-prior")}
    for proto in ("ai4va", "mit"):
        assert res["panel-prior"][f"val_{proto}"]["KLD"] < res["centre-bias"][f"val_{proto}"]["KLD"], res
        assert res["panel-prior"][f"val_{proto}"]["CC"] > res["centre-bias"][f"val_{proto}"]["CC"], res


def test_structure_channels_in_the_readout(sample, tmp_path):
    s = train(TrainConfig(data=str(sample), backbone="none", long_side=256, epochs=2, structure=("panels", "text")),
              tmp_path / "st", progress=False)
    from comicsal.models import load_model
    m = load_model(tmp_path / "st/model.pt")
    assert m.structure == ("panels", "text") and m.head.readout[0].ln.normalized_shape[0] == sum(m.backbone.channels) + 2
    assert m(torch.rand(1, 3, 128, 96)).shape == (1, 128, 96)


def test_cli_structure_models(sample, tmp_path):
    r = subprocess.run([BIN / "comicsal", "predict", "--model", "panel-prior", "--fit", sample, "--images", sample,
                        "--split", "test", "--out", tmp_path / "p", "--no-progress"], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    r = subprocess.run([BIN / "comicsal", "train", "--data", sample, "--backbone", "none", "--long-side", "256",
                        "--epochs", "1", "--structure", "panels,text", "--out", tmp_path / "t", "--no-progress"],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert json.loads((tmp_path / "t/summary.json").read_text())["epochs"] == 1
