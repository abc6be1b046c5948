"""comicsal.faces: the hand-labelled faces, the shipped face head's card re-measured on real pages, pages with faces
for the simulated readers, the readers' calibration, and the default's mass on faces and mastheads (card re-measured)."""
import json
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import OPENMANTRA, ROOT, needs_openmantra

import comicsal
from comicsal.config import ComicsalError
from comicsal.faces import FaceDetector, calibrate_readers, face_boxes, face_key, face_probability, face_scores, load_face_detector, load_face_labels, mass_in_boxes, reader_gap, with_faces
from comicsal.observers import SynthParams, observer_map, structure_layout

WEIGHTS = Path(comicsal.__file__).parent / "weights"


def test_labels_cover_four_series_with_hundreds_of_faces():
    labels = load_face_labels(ROOT / "tests" / "fixtures" / "openmantra_faces.json")
    series = {k.split("/")[0] for k in labels}
    assert series == {"tojime_no_siora", "balloon_dream", "tencho_isoro", "rasetugari"}
    assert len(labels) >= 80 and sum(map(len, labels.values())) >= 300
    assert all(0 <= b[0] < b[2] <= 830 and 0 <= b[1] < b[3] <= 1170 for bs in labels.values() for b in bs)


def test_bad_label_files_are_named(tmp_path):
    (tmp_path / "f.json").write_text("{not json")
    with pytest.raises(ComicsalError, match="f.json is not valid JSON"): load_face_labels(tmp_path / "f.json")
    with pytest.raises(ComicsalError, match="missing.*face_model"): load_face_detector(tmp_path / "none.pt")


def test_face_head_runs_on_any_page_size():
    det = FaceDetector(pretrained=False)
    for H, W in ((37, 901), (1500, 40), (8, 8)):
        p, hw = face_probability(torch.rand(3, H, W), det)
        assert hw == (H, W) and p.ndim == 2 and ((p >= 0) & (p <= 1)).all()
        assert all(0 <= b[0] <= b[2] <= W and 0 <= b[1] <= b[3] <= H for b in face_boxes(p, hw, 0.0))


def test_shipped_face_card_is_complete():
    card = json.loads((WEIGHTS / "faces.json").read_text())
    held, val = card["series"]["held_out"], card["series"]["val"]
    assert held not in card["series"]["train"] and val not in card["series"]["train"] and held != val
    assert card["scores"][held]["recall"] >= 0.7 and card["scores"][held]["faces"] >= 100
    assert card["chosen"] in card["candidates_val"]


@needs_openmantra
def test_face_card_re_measured_on_the_validation_series():
    "The card's numbers for the validation series (the held-out one is re-measured by the faces chapter)."
    from comicsal.annotations import load_structure
    card = json.loads((WEIGHTS / "faces.json").read_text())
    val = card["series"]["val"]; labels = load_face_labels()
    det = load_face_detector()
    pages = [sp for sp in load_structure(OPENMANTRA) if sp.series == val and face_key(sp) in labels]
    s = face_scores([face_probability(sp.image, det)[0] for sp in pages], [dict(hw=(sp.height, sp.width), boxes=labels[face_key(sp)]) for sp in pages], det.threshold)
    assert abs(s["recall"] - card["scores"][val]["recall"]) < 0.02 and abs(s["mass_ratio"] - card["scores"][val]["mass_ratio"]) < 0.1, s


@needs_openmantra
def test_unlabelled_real_pages_get_detected_faces_and_readers_look_at_them():
    from comicsal.annotations import load_structure
    labels = load_face_labels()
    pages = [sp for sp in load_structure(OPENMANTRA) if sp.series == "rasetugari"]
    odd = [sp for sp in pages if face_key(sp) not in labels][:3]
    assert sum(bool(sp.faces) for sp in with_faces(odd, labels, progress=False)) >= 2     # found by the head
    labelled = with_faces([sp for sp in pages if labels.get(face_key(sp))][:8], labels, progress=False)
    shares = [mass_in_boxes(observer_map(structure_layout(sp), (sp.height, sp.width), np.random.default_rng([0, i]), SynthParams())[0],
                            sp.faces, (sp.height, sp.width)) for i, sp in enumerate(labelled)]
    assert sum(m for m, _ in shares) > 2 * sum(a for _, a in shares)      # measured 2.3× over these 8 pages


def test_calibration_picks_the_nearest_readers():
    lay = dict(width=200, height=280, title=None, captions=[], sfx=[], objects=[], faces=[dict(panel=0, box=[20, 20, 60, 60])],
               panels=[dict(box=[0, 0, 200, 140]), dict(box=[0, 140, 200, 280])],
               balloons=[dict(panel=1, box=[100, 160, 180, 200], lines=[[102, 170, 178, 180]])])
    lays = [(lay, (280, 200))]
    real = {"above_zero": 0.9, "entropy": 11.2, "peak": 0.22}
    best, rows = calibrate_readers({"toy": lays}, real, [dict(glances=0.0), dict(glances=6.0)])
    assert len(rows) == 2 and best["worst"] == min(r["worst"] for r in rows)
    assert reader_gap(real, real) == 0


@needs_openmantra
def test_default_puts_mass_on_faces_and_little_on_mastheads_as_its_card_says():
    "The card's faces line for the shipped default, re-measured on the held-out series' labelled pages."
    from comicsal.annotations import load_structure
    from comicsal.predict import predict_density
    from comicsal.zoo import resolve_model, shipped_checkpoint
    card = json.loads((shipped_checkpoint().parent / "comicsal-default.json").read_text())
    fm = card["faces_and_mastheads"]; held = fm["held_out_pages"]["series"]
    labels = load_face_labels(); model = resolve_model("comicsal")
    pages = [sp for sp in load_structure(OPENMANTRA) if sp.series == held and face_key(sp) in labels]
    face = area = outside = 0.0
    for sp in pages:
        d = predict_density(model, sp.image, (sp.height // 4, sp.width // 4))
        mi, ai = mass_in_boxes(d, labels[face_key(sp)], (sp.height, sp.width)); face += mi; area += ai
        outside += 1 - mass_in_boxes(d, sp.panels, (sp.height, sp.width))[0]
    mine = fm["models"]["comicsal (new default)"]
    assert abs(face / area - mine["face mass / face area"]) < 0.05 and abs(outside / len(pages) - mine["mass outside panels"]) < 0.01
    assert face / area > 1.5 and mine["face mass / face area"] > fm["models"]["previous default"]["face mass / face area"]
    assert mine["title banner mass"] < 2 * mine["title banner area"]
