"""The embedded sample: deterministic per seed, in the AI4VA layout, and usable through the CLI."""
import filecmp
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from comicsal.data import check_dataset, discover, load_map
from comicsal.synth import SynthParams, load_layout, synth_dataset, synth_page

BIN = Path(sys.executable).parent


def _files(d):
    return sorted(p.relative_to(d) for p in d.rglob("*") if p.is_file())


def test_same_seed_same_bytes(tmp_path, sample):
    again = synth_dataset(tmp_path / "again", 6, 4, 2, seed=11, progress=False)
    assert _files(again) == _files(sample)
    diff = [str(p) for p in _files(sample) if not filecmp.cmp(sample / p, again / p, shallow=False)]
    assert not diff


def test_other_seed_other_pages(tmp_path, sample):
    other = synth_dataset(tmp_path / "other", 6, 4, 2, seed=12, progress=False)
    a = next((sample / "maps/train").glob("*.png")); b = other / "maps/train" / a.name
    assert not np.array_equal(load_map(a), load_map(b))


def test_a_page_does_not_depend_on_how_many_are_made(tmp_path, sample):
    "Page identity comes from (seed, split, index) alone: a bigger set starts with the same pages."
    bigger = synth_dataset(tmp_path / "bigger", 7, 1, 0, seed=11, progress=False)
    for name in ("placid_muzo_train000.png", "yves_le_loup_train005.jpg"):
        assert filecmp.cmp(bigger / "images/train" / name, sample / "images/train" / name, shallow=False)
    assert synth_page(11, "val", 3).stem == "yves_le_loup_val003"


def test_layout_and_maps_are_consistent(sample):
    rep = check_dataset(sample, progress=False)
    assert rep.ok, rep.summary()
    assert rep.counts() == {"train": {"toon": 3, "realistic": 3}, "val": {"toon": 2, "realistic": 2},
                            "test": {"toon": 1, "realistic": 1}}
    assert set(rep.map_sizes.values()) == {(512, 512)}
    for p in discover(sample).split("val"):
        lay = load_layout(sample, "val", p.stem)
        W, H = Image.open(p.image).size
        assert (lay["width"], lay["height"]) == (W, H) and H > W
        assert len(lay["panels"]) >= 3 and len(lay["fixations"]) == SynthParams().n_observers
        for pan in lay["panels"]:
            x0, y0, x1, y1 = pan["box"]
            assert 0 <= x0 < x1 <= W and 0 <= y0 < y1 <= H
        # the map's mass sits on the text and faces, not in the gutters
        m = load_map(p.map)
        assert m.max() == 1.0 and 0.01 < m.mean() < 0.5


def test_a_non_empty_folder_is_refused_unless_forced(tmp_path):
    (tmp_path / "mine").mkdir(); (tmp_path / "mine/notes.txt").write_text("mine")
    from comicsal.config import ComicsalError
    with pytest.raises(ComicsalError, match="--force"):
        synth_dataset(tmp_path / "mine", 1, 1, 0, progress=False)
    synth_dataset(tmp_path / "mine", 1, 1, 0, progress=False, force=True)
    assert (tmp_path / "mine/synth.json").is_file()


def test_cli_synth_then_check_in_a_subprocess(tmp_path):
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    out = tmp_path / "cli"
    r = subprocess.run([BIN / "comicsal", "data", "synth", "--out", out, "--n-train", "2", "--n-val", "2",
                        "--n-test", "0", "--seed", "5"], capture_output=True, text=True, env=env)
    assert r.returncode == 0, r.stderr
    r = subprocess.run([BIN / "comicsal", "data", "check", out], capture_output=True, text=True, env=env)
    assert r.returncode == 0 and "no problems found" in r.stdout, r.stdout + r.stderr
    # a truncated PNG and an unpaired map: named, and exit status 1
    victim = next((out / "maps/val").glob("*.png"))
    victim.write_bytes(victim.read_bytes()[:100])
    Image.new("L", (4, 4)).save(out / "maps/train/stray_page.png")
    r = subprocess.run([BIN / "comicsal", "data", "check", out], capture_output=True, text=True, env=env)
    assert r.returncode == 1
    assert victim.name in r.stdout and "stray_page.png" in r.stdout
    r = subprocess.run([BIN / "comicsal", "data", "synth", "--out", out], capture_output=True, text=True, env=env)
    assert r.returncode == 1 and "--force" in r.stderr and "Traceback" not in r.stderr
