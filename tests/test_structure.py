"""Comic structure: panel and text detection against the synthetic answer key, priors, structure channels."""
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import SHARED
from PIL import Image

from comicsal.annotations import load_structure
from comicsal.cli import run_captured
from comicsal.structure import detect_balloons, detect_panels, detect_panels_classical, detect_text, evaluate_structure, match_boxes, reading_order
from comicsal.synth import synth_page
from comicsal.train import TrainConfig, train

BIN = Path(sys.executable).parent


def _pr(counts):
    tp, fp, fn = counts
    return tp / max(1, tp + fp), tp / max(1, tp + fn)


def _block(b):
    L = b["lines"]
    return [min(l[0] for l in L), min(l[1] for l in L), max(l[2] for l in L), max(l[3] for l in L)]


def test_detection_precision_recall_on_synthetic_pages():
    "Panels, text blocks and balloons over 24 pages of both styles (titles, borderless panels, yellowed paper)."
    panels, text, text3, balloons = (np.zeros(3, int) for _ in range(4))
    for i in range(24):
        pg = synth_page(7, "val", i)
        img = pg.image.astype(np.float32) / 255
        panels += match_boxes(detect_panels(img), [p["box"] for p in pg.layout["panels"]])
        blocks = [_block(b) for b in pg.layout["balloons"] + pg.layout["captions"]]
        found = detect_text(img).boxes
        text += match_boxes(found, blocks); text3 += match_boxes(found, blocks, 0.3)
        balloons += match_boxes(detect_balloons(img).boxes, [b["box"] for b in pg.layout["balloons"] + pg.layout["captions"]])
    (pp, pr), (tp, tr), (tp3, tr3), (bp, br) = _pr(panels), _pr(text), _pr(text3), _pr(balloons)
    print(f"panels P {pp:.2f} R {pr:.2f}; text P {tp:.2f} R {tr:.2f} (IoU .3: {tp3:.2f} / {tr3:.2f}); balloons P {bp:.2f} R {br:.2f}")
    # revision 3 of the generator (insets, balloons across borders, skew): measured P 0.96, R 0.88 for panels
    assert pp >= 0.9 and pr >= 0.85 and 2 * pp * pr / (pp + pr) >= 0.9                    # the F1 ≥ 0.9
    # the classical balloon detector (kept for comparison) loses most to crossing balloons and dot screens: 0.81 / 0.76
    assert tp3 >= 0.7 and tr3 >= 0.8 and bp >= 0.75 and br >= 0.7


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
    assert detect_panels_classical(np.ones((50, 40, 3), np.float32)) == []
    assert len(detect_panels(np.ones((50, 40, 3), np.float32))) <= 1       # blank: at most the page itself
    assert detect_balloons(np.ones((50, 40, 3), np.float32)).boxes == []
    assert len(detect_text(np.ones((50, 40, 3), np.float32)).boxes) <= 1     # a blank page: nothing (or one stray block)


def test_panel_prior_beats_the_centre_bias_on_the_sample(sample, tmp_path):
    res = {m: train(TrainConfig(data=str(sample), model=m), tmp_path / m, progress=False)
           for m in ("centre-bias", "panel-prior", "text-prior")}
    for proto in ("ai4va", "mit"):
        assert res["panel-prior"][f"val_{proto}"]["KLD"] < res["centre-bias"][f"val_{proto}"]["KLD"], res
        assert res["panel-prior"][f"val_{proto}"]["CC"] > res["centre-bias"][f"val_{proto}"]["CC"], res


def test_structure_channels_in_the_readout(sample, tmp_path):
    train(TrainConfig(data=str(sample), backbone="none", long_side=256, epochs=2, structure=("panels", "text")),
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


# --- real pages: OpenMantra (../shared), the structure commands ------------------------------------------------

OPENMANTRA = SHARED / "data" / "comics" / "openmantra"
needs_openmantra = pytest.mark.skipif(not (OPENMANTRA / "annotation.json").is_file(),
                                      reason=f"{OPENMANTRA} is absent (a fresh clone without the project's shared data)")


@needs_openmantra
def test_openmantra_loads_as_it_is():
    pages = load_structure(OPENMANTRA)
    assert len(pages) == 178 and {p.series for p in pages} == {"tojime_no_siora", "balloon_dream", "tencho_isoro", "rasetugari"}
    assert all(p.direction == "rtl" and p.image.is_file() for p in pages)
    assert sum(len(p.panels) for p in pages) > 500 and sum(len(p.text) for p in pages) > 1000
    # the annotation's list order is its reading order: right to left in a tier, so our order of the true boxes agrees
    ok = pairs = 0
    for p in pages:
        order = reading_order(p.panels, "rtl")
        ranks = order
        pairs += len(ranks) * (len(ranks) - 1) // 2
        ok += sum(ranks[a] < ranks[b] for a in range(len(ranks)) for b in range(a + 1, len(ranks)))
    assert ok / pairs > 0.95, ok / pairs


@needs_openmantra
def test_structure_commands_on_real_pages(tmp_path):
    series = OPENMANTRA / "images" / "tencho_isoro"
    rc, out, err = run_captured(["structure", "detect", "--images", series, "--out", tmp_path / "det", "--direction", "rtl", "--no-progress"])
    assert rc == 0, err
    files = sorted((tmp_path / "det").rglob("*.json"))
    assert len(files) == 40
    det = json.loads(files[0].read_text())
    assert det["direction"] == "rtl" and (det["width"], det["height"]) == Image.open(det["image"]).size
    rc, out, err = run_captured(["structure", "evaluate", "--pred", tmp_path / "det", "--gt", OPENMANTRA, "--out", tmp_path / "ev"])
    assert rc == 0 and "138 annotated page(s) have no detection" in err, err
    m = json.loads((tmp_path / "ev" / "metrics.json").read_text())
    assert m["protocol"] == "structure" and m["n"] == 40 and set(m["per_series"]) == {"tencho_isoro"}
    assert 0 <= m["means"]["panel_F1"] <= 1 and 0 <= m["means"]["order"] <= 1


def test_structure_commands_on_synthetic_pages(sample, tmp_path):
    rc, out, err = run_captured(["structure", "detect", "--images", sample, "--out", tmp_path / "det", "--no-progress"])
    assert rc == 0, err
    rc, out, err = run_captured(["structure", "evaluate", "--pred", tmp_path / "det", "--gt", sample, "--out", tmp_path / "ev"])
    assert rc == 0, err
    m = json.loads((tmp_path / "ev" / "metrics.json").read_text())
    assert m["n"] == 12 and m["means"]["order"] > 0.9
    rc, out, err = run_captured(["structure", "detect", "--images", sample, "--out", sample / "det", "--no-progress"])
    assert rc == 1 and "overlaps" in err


def test_coco_annotations_and_bad_detection_files(tmp_path):
    (tmp_path / "pages").mkdir()
    Image.new("RGB", (200, 100), "white").save(tmp_path / "pages" / "a.png")
    coco = {"images": [{"id": 1, "file_name": "pages/a.png", "width": 200, "height": 100, "direction": "rtl"}],
            "categories": [{"id": 1, "name": "frame"}, {"id": 2, "name": "text"}],
            "annotations": [{"id": 1, "image_id": 1, "bbox": [100, 0, 100, 100], "category_id": 1},
                            {"id": 2, "image_id": 1, "bbox": [0, 0, 100, 100], "category_id": 1}]}
    (tmp_path / "coco.json").write_text(json.dumps(coco))
    (tmp_path / "det").mkdir()
    (tmp_path / "det" / "a.json").write_text(json.dumps({"width": 400, "height": 200, "direction": "rtl", "text": [],
                                                         "panels": [[200, 0, 400, 200], [0, 0, 200, 200]]}))
    s = evaluate_structure(tmp_path / "det", tmp_path / "coco.json").summary()     # boxes rescaled to the page
    assert s["means"]["panel_F1"] == 1.0 and s["means"]["order"] == 1.0 and s["per_style"].keys() == {"unknown"}
    rc, out, err = run_captured(["structure", "evaluate", "--pred", tmp_path / "nowhere", "--gt", tmp_path / "coco.json"])
    assert rc == 1 and "does not exist" in err and "Traceback" not in err


@needs_openmantra
def test_panel_prior_shows_the_panels_of_a_real_page(tmp_path):
    "On a real page the panel prior is one blob per detected panel, not the centre Gaussian it fell back to before."
    from skimage.feature import peak_local_max
    page = OPENMANTRA / "images" / "rasetugari" / "ja" / "010.jpg"          # five panels in three tiers
    (tmp_path / "in").mkdir(); (tmp_path / "in" / page.name).symlink_to(page)          # read in place
    rc, out, err = run_captured(["predict", "--model", "panel-prior", "--images", tmp_path / "in", "--out", tmp_path / "p", "--no-progress"])
    assert rc == 0, err
    m = np.asarray(Image.open(tmp_path / "p" / "010.png"), float)
    peaks = peak_local_max(m, min_distance=40, threshold_rel=0.3)
    assert len(peaks) >= 4, peaks


def test_detection_at_any_page_size(tmp_path):
    "A page scanned at 220 px or at 5000 px on the long side: the same panels as at its own size, in the page's own pixels."
    from comicsal.structure import detect_folder
    # a 6-panel page, read perfectly at its own size; how dense pages fare at 220–300 px is measured in the chapter
    pg = synth_page(5, "val", 5)
    im = Image.fromarray(pg.image)
    H, W = pg.image.shape[:2]
    (tmp_path / "in").mkdir()
    for side in (220, 5000):
        s = side / max(H, W)
        im.resize((round(W * s), round(H * s)), Image.LANCZOS).save(tmp_path / "in" / f"p{side}.png")
    detect_folder(tmp_path / "in", tmp_path / "out", progress=False)
    native = detect_panels(pg.image.astype(np.float32) / 255)
    truth = [p["box"] for p in pg.layout["panels"]]
    assert match_boxes(native, truth)[0] >= len(truth) - 2            # the page itself is read well
    for side in (220, 5000):
        det = json.loads((tmp_path / "out" / f"p{side}.json").read_text())
        s = W / det["width"]
        found = [[v * s for v in b] for b in det["panels"]]
        tp, fp, fn = match_boxes(found, native)
        assert tp >= len(native) - 1 and fp <= 1, (side, tp, fp, fn)
