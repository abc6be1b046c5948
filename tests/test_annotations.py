"""comicsal.annotations: OpenMantra as it is (../shared) and COCO-style structure annotations."""
import json

from conftest import OPENMANTRA, needs_openmantra
from PIL import Image

from comicsal.annotations import load_structure
from comicsal.cli import run_captured
from comicsal.structure import evaluate_structure, reading_order


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
