"""comicsal.structure: panel and text detection against the synthetic answer key, at any page size, and its commands."""
import json

import numpy as np
from conftest import OPENMANTRA, needs_openmantra
from PIL import Image

from comicsal.cli import run_captured
from comicsal.structure import detect_balloons, detect_panels, detect_panels_classical, detect_text, match_boxes
from comicsal.synth import synth_page


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


def test_detection_at_any_page_size(tmp_path):
    "A page scanned at 220 px or at 5000 px on the long side, and at its own size: its panels found, in the page's own pixels."
    from comicsal.structure import detect_folder
    # a 6-panel page; how dense pages fare at 220–300 px is measured in the chapter. The page has two places that the
    # networks split now and then, at one size or another — a figure's body and a hatched ground line that crosses a
    # panel like a border (comicsal-structure-3: both at the page's own size; the three networks of -4: the ground line
    # at every size, the figure at 5000 px) — so each size is checked against the answer key, in the page's own pixels,
    # with those two false boxes at most
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
    ntp, nfp, _ = match_boxes(native, truth)
    assert ntp >= len(truth) - 1 and nfp <= 2, (ntp, nfp)            # the page itself: its panels found
    for side in (220, 5000):
        det = json.loads((tmp_path / "out" / f"p{side}.json").read_text())
        s = W / det["width"]
        found = [[v * s for v in b] for b in det["panels"]]
        tp, fp, fn = match_boxes(found, truth)
        assert tp >= len(truth) - 1 and fp <= 2, (side, tp, fp, fn)    # ... at any size


# -- the structure commands: real pages (OpenMantra, ../shared) and synthetic ones ---------------------------------

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
    (tmp_path / "ev" / "metrics.json").unlink()                  # a per_page.csv alone is not overwritten unasked either
    rc, out, err = run_captured(["structure", "evaluate", "--pred", tmp_path / "det", "--gt", sample, "--out", tmp_path / "ev"])
    assert rc == 1 and "per_page.csv already exists" in err and "--force" in err, err
    rc, out, err = run_captured(["structure", "detect", "--images", sample, "--out", sample / "det", "--no-progress"])
    assert rc == 1 and "overlaps" in err


def test_the_shipped_panel_weights_have_a_card_for_this_detector():
    "The card beside the weights names the detector version that reads them and says its figures involve no gaze."
    import json
    from pathlib import Path

    import comicsal
    from comicsal.structure import DETECTOR
    card = json.loads((Path(comicsal.__file__).parent / "weights" / "structure-panels.json").read_text())
    assert card["detector"] == DETECTOR and card["weights"] == "structure-panels.pt"
    assert "no gaze" in card["ground_truth"] and "no gaze" in card["figures"]["kind"]
