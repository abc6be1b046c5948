"""Edge cases of discovery, pairing, loading and fetching (the notebook holds the everyday cases)."""
import random
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings, strategies as st
from PIL import Image

from comicsal.archives import fetch_ai4va, normalise_layout
from comicsal.config import ComicsalError
from comicsal.data import (
    ComicDataset,
    UnreadableImage,
    check_dataset,
    discover,
    infer_style,
    load_image,
    load_map,
    pad_collate,
    read_styles,
)


def write_pair(root, split, stem, value, img_ext=".png", map_ext=".png", map_size=(6, 6), img_size=(4, 8)):
    (root / "images" / split).mkdir(parents=True, exist_ok=True)
    Image.new("RGB", img_size, (value, value, value)).save(root / "images" / split / f"{stem}{img_ext}")
    if map_ext:
        (root / "maps" / split).mkdir(parents=True, exist_ok=True)
        Image.new("L", map_size, value).save(root / "maps" / split / f"{stem}{map_ext}")


# -- pairing ---------------------------------------------------------------------------------------------------

@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(n=st.integers(1, 8), seed=st.integers(0, 10_000))
def test_pairing_by_stem_whatever_the_creation_order(tmp_path_factory, n, seed):
    """Files are created in shuffled orders with mixed extensions; each image must meet the map holding its value."""
    root = tmp_path_factory.mktemp("pairs")
    rng = random.Random(seed)
    stems = [f"page_{rng.randrange(10**6):06d}_{i}" for i in range(n)]
    values = {s: 10 + 20 * i for i, s in enumerate(stems)}
    exts = [".png", ".PNG", ".jpg", ".JPEG"]
    for s in rng.sample(stems, n):   # images in one order ...
        write_pair(root, "train", s, values[s], img_ext=rng.choice(exts), map_ext=None)
    for s in rng.sample(stems, n):   # ... maps in another
        (root / "maps/train").mkdir(parents=True, exist_ok=True)
        Image.new("L", (6, 6), values[s]).save(root / "maps/train" / f"{s}{rng.choice(['.png', '.PNG'])}")
    disc = discover(root)
    assert not disc.problems
    assert [p.stem for p in disc.pages] == sorted(stems)
    for p in disc.pages:
        assert abs(load_map(p.map)[0, 0] * 255 - values[p.stem]) < 1
        assert abs(load_image(p.image)[0, 0, 0] * 255 - values[p.stem]) < 3   # JPEG may round


def test_mismatched_names_are_reported(tmp_path):
    write_pair(tmp_path, "train", "a", 1)
    write_pair(tmp_path, "train", "b", 2, map_ext=None)
    (tmp_path / "maps/train/b_map.png").write_bytes((tmp_path / "maps/train/a.png").read_bytes())
    write_pair(tmp_path, "val", "c", 3)
    (tmp_path / "images/val/c.jpg").write_bytes((tmp_path / "images/val/c.png").read_bytes())  # duplicate stem
    disc = discover(tmp_path)
    text = "\n".join(disc.problems)
    assert "images/train/b.png" in text and "maps/train/b_map.png" in text
    assert "several files share the stem 'c'" in text
    assert [p.stem for p in disc.pages] == ["a"]


def test_test_split_needs_no_maps_and_non_images_are_ignored(tmp_path):
    write_pair(tmp_path, "test", "t1", 5, map_ext=None)
    (tmp_path / "images/test/notes.txt").write_text("hello")
    (tmp_path / "images/test/.DS_Store").write_text("x")
    disc = discover(tmp_path)
    assert not disc.problems
    assert [p.name for p in disc.ignored] == ["notes.txt"]
    assert disc.pages[0].map is None


def test_empty_and_missing_folders(tmp_path):
    with pytest.raises(ComicsalError, match="does not exist"):
        discover(tmp_path / "missing")
    with pytest.raises(ComicsalError, match="no images/ folder"):
        discover(tmp_path)
    for split in ("train", "val", "test"):
        (tmp_path / "images" / split).mkdir(parents=True)
    disc = discover(tmp_path)
    assert any("no pages found" in p for p in disc.problems)
    rep = check_dataset(tmp_path, progress=False)
    assert not rep.ok and "no pages found" in rep.summary()
    # images present, maps folder missing: every image is unpaired
    write_pair(tmp_path, "val", "v", 1, map_ext=None)
    disc = discover(tmp_path)
    assert "maps/val" in disc.absent and len(disc.unpaired_images) == 1


# -- styles ----------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("stem,style", [("placid_muzo_012", "toon"), ("Muzo p3", "toon"), ("PLACID-7", "toon"),
                                        ("yves_le_loup_3", "realistic"), ("LOUP", "realistic"),
                                        ("0042", "unknown"), ("placid_vs_yves", "unknown")])
def test_infer_style(stem, style):
    assert infer_style(stem) == style


def test_styles_csv_overrides_stems(tmp_path):
    write_pair(tmp_path, "train", "placid_1", 1)
    write_pair(tmp_path, "train", "0002", 2)
    (tmp_path / "styles.csv").write_text("stem,style\nplacid_1,realistic\n0002,Placid et Muzo\nghost,toon\n")
    disc = discover(tmp_path)
    assert {p.stem: p.style for p in disc.pages} == {"placid_1": "realistic", "0002": "toon"}
    assert disc.unknown_styles == ["ghost"]
    (tmp_path / "styles.csv").write_text("placid_1\n")
    with pytest.raises(ComicsalError, match=r"styles.csv, line 1"):
        read_styles(tmp_path / "styles.csv")


# -- loading ---------------------------------------------------------------------------------------------------

def test_corrupt_files_are_named(tmp_path):
    write_pair(tmp_path, "train", "good", 9)
    write_pair(tmp_path, "train", "trunc", 9, img_size=(64, 64))
    data = (tmp_path / "images/train/trunc.png").read_bytes()
    (tmp_path / "images/train/trunc.png").write_bytes(data[: len(data) // 2])
    write_pair(tmp_path, "train", "notimg", 9)
    (tmp_path / "maps/train/notimg.png").write_text("this is not a PNG")
    with pytest.raises(UnreadableImage, match="trunc.png"):
        load_image(tmp_path / "images/train/trunc.png")
    rep = check_dataset(tmp_path, progress=False)
    bad = "\n".join(rep.unreadable)
    assert "images/train/trunc.png" in bad and "maps/train/notimg.png" in bad and "good" not in bad
    assert not rep.ok


def _modes():
    rgb = np.array([[[255, 0, 0], [0, 255, 0]], [[0, 0, 255], [255, 255, 255]]], np.uint8)
    yield "RGB", Image.fromarray(rgb), rgb / 255
    yield "L", Image.fromarray(rgb[..., 0]), np.repeat(rgb[..., :1], 3, -1) / 255
    rgba = np.dstack([rgb, np.array([[255, 0], [128, 255]], np.uint8)])
    a = rgba[..., 3:] / 255
    yield "RGBA", Image.fromarray(rgba), rgb / 255 * a + (1 - a)
    la = np.dstack([rgb[..., 0], np.array([[0, 255], [255, 255]], np.uint8)])
    a = la[..., 1:] / 255
    yield "LA", Image.fromarray(la, "LA"), np.repeat(la[..., :1] / 255 * a + (1 - a), 3, -1)
    yield "P", Image.fromarray(rgb).convert("P", palette=Image.ADAPTIVE, colors=4), rgb / 255
    i16 = np.array([[0, 65535], [32768, 1000]], np.uint16)
    yield "I;16", Image.fromarray(i16), np.repeat((i16 / 65535)[..., None], 3, -1)
    yield "1", Image.fromarray(np.array([[0, 255], [255, 0]], np.uint8)).convert("1"), \
        np.repeat(np.array([[0, 1], [1, 0]], float)[..., None], 3, -1)


@pytest.mark.parametrize("mode,im,expected", list(_modes()), ids=[m for m, _, _ in _modes()])
def test_every_image_mode_loads_as_rgb_float(tmp_path, mode, im, expected):
    assert im.mode == mode
    im.save(tmp_path / "x.png")
    got = load_image(tmp_path / "x.png")
    assert got.dtype == np.float32 and got.shape == (2, 2, 3)
    assert np.allclose(got, expected, atol=1 / 255 + 1e-6)


def test_palette_with_transparency_composites_on_white(tmp_path):
    im = Image.new("P", (2, 1)); im.putpalette([0, 0, 0, 200, 10, 10] + [0] * 762)
    im.putpixel((1, 0), 1); im.info["transparency"] = 0
    im.save(tmp_path / "p.png", transparency=0)
    got = load_image(tmp_path / "p.png")
    assert np.allclose(got[0, 0], 1) and np.allclose(got[0, 1], [200 / 255, 10 / 255, 10 / 255], atol=1e-6)


def test_cmyk_jpeg_and_map_modes(tmp_path):
    Image.new("CMYK", (3, 3), (0, 0, 0, 0)).save(tmp_path / "c.jpg")
    assert load_image(tmp_path / "c.jpg").min() > 0.95
    for mode, value, expected in [("L", 128, 128 / 255), ("RGB", (128, 128, 128), 128 / 255),
                                  ("LA", (64, 0), 64 / 255), ("RGBA", (255, 255, 255, 0), 1.0),
                                  ("I;16", 65535, 1.0)]:
        im = Image.new(mode, (3, 3), value)
        im.save(tmp_path / f"m_{mode.replace(';', '')}.png")
        got = load_map(tmp_path / f"m_{mode.replace(';', '')}.png")
        assert got.shape == (3, 3) and got.dtype == np.float32, mode
        assert np.allclose(got, expected, atol=1e-3), mode


# -- torch ------------------------------------------------------------------------------------------------------

def test_dataset_and_collate_keep_sizes_and_mask(sample):
    ds = ComicDataset(sample, "val", long_side=256)
    items = [ds[i] for i in range(len(ds))]
    for it in items:
        assert max(it["image"].shape[-2:]) == 256 and it["map"].shape[-2:] == it["image"].shape[-2:]
        assert it["map_size"] == (512, 512) and it["page_size"][0] > it["page_size"][1]   # square map, portrait page
    b = pad_collate(items, multiple=32)
    assert b["image"].shape[-2] % 32 == 0 and b["image"].shape[-1] % 32 == 0
    for k, it in enumerate(items):
        h, w = it["image"].shape[-2:]
        assert b["mask"][k, 0].sum() == h * w
        assert torch.equal(b["image"][k, :, :h, :w], it["image"]) and b["image"][k, :, h:, :].abs().sum() == 0
    test = ComicDataset(sample, "test", long_side=128)
    assert test[0]["map"] is None and pad_collate([test[0]])["map"] is None
    loader = torch.utils.data.DataLoader(ds, batch_size=2, collate_fn=pad_collate)
    assert sum(len(b["stem"]) for b in loader) == len(ds)
    with pytest.raises(ComicsalError, match="unknown split"):
        ComicDataset(sample, "dev")


# -- fetch -----------------------------------------------------------------------------------------------------

def _archive_tree(src: Path):
    "A plausible challenge archive: nested folder, per-split image/map folders with their own names."
    for split, sdir in (("train", "Train"), ("val", "Validation")):
        for i in range(2):
            d = src / "AI4VA_saliency" / sdir
            (d / "Images").mkdir(parents=True, exist_ok=True); (d / "GT_saliency").mkdir(parents=True, exist_ok=True)
            Image.new("RGB", (8, 12), (i, 0, 0)).save(d / "Images" / f"yves_{split}_{i}.jpg")
            Image.new("L", (10, 10), i).save(d / "GT_saliency" / f"yves_{split}_{i}.png")
    (src / "AI4VA_saliency/test/images").mkdir(parents=True)
    Image.new("RGB", (8, 12)).save(src / "AI4VA_saliency/test/images/placid_t.png")
    (src / "__MACOSX").mkdir(); (src / "__MACOSX/._junk.png").write_bytes(b"junk")


@pytest.mark.parametrize("kind", ["zip", "gztar"])
def test_fetch_unpacks_and_normalises_a_local_archive(tmp_path, kind):
    _archive_tree(tmp_path / "src")
    archive = shutil.make_archive(str(tmp_path / "ai4va"), kind, tmp_path / "src")
    rep = fetch_ai4va(tmp_path / "data", archive=archive)
    assert rep.ok, rep.summary()
    assert rep.counts() == {"train": {"realistic": 2}, "val": {"realistic": 2}, "test": {"toon": 1}}
    assert (tmp_path / "data/maps/val/yves_val_1.png").is_file()
    assert "drive.google.com" in (tmp_path / "data/SOURCE.txt").read_text()
    with pytest.raises(ComicsalError, match="`force=True`"):
        fetch_ai4va(tmp_path / "data", archive=archive)
    assert fetch_ai4va(tmp_path / "data", archive=archive, force=True).ok


def test_normalise_refuses_to_guess(tmp_path):
    (tmp_path / "src/stuff").mkdir(parents=True)
    Image.new("L", (4, 4)).save(tmp_path / "src/stuff/0001.png")
    with pytest.raises(ComicsalError, match=r"(?s)cannot tell .* stuff/0001.png"):
        normalise_layout(tmp_path / "src", tmp_path / "dst")


def test_fetch_errors_are_clear(tmp_path, monkeypatch):
    (tmp_path / "broken.zip").write_bytes(b"PK not really")
    with pytest.raises(ComicsalError, match="cannot unpack"):
        fetch_ai4va(tmp_path / "d1", archive=tmp_path / "broken.zip")
    import socket
    def refuse(*a, **k): raise OSError("network is unreachable")
    monkeypatch.setattr(socket, "create_connection", refuse)
    with pytest.raises(ComicsalError, match="Manual steps") as e:
        fetch_ai4va(tmp_path / "d2")
    assert "--archive" in str(e.value) and "1cNivYQCyEz6AncLTJnAfrgkGRyMsVmm_" in str(e.value)
