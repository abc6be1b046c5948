"""comicsal.data: discovery, pairing, styles, loading any image mode, the pixel limit, odd paths and `data check`."""
import io
import os
import random
import warnings
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings, strategies as st
from PIL import Image

from comicsal.config import ComicsalError
from comicsal.data import (
    ComicDataset,
    UnreadableImage,
    check_dataset,
    discover,
    infer_style,
    load_image,
    load_map,
    load_page,
    open_image,
    pad_collate,
    read_styles,
)


def write_pair(root, split, stem, value, img_ext=".png", map_ext=".png", map_size=(6, 6), img_size=(4, 8)):
    (root / "images" / split).mkdir(parents=True, exist_ok=True)
    Image.new("RGB", img_size, (value, value, value)).save(root / "images" / split / f"{stem}{img_ext}")
    if map_ext:
        (root / "maps" / split).mkdir(parents=True, exist_ok=True)
        Image.new("L", map_size, value).save(root / "maps" / split / f"{stem}{map_ext}")


# -- pairing -------------------------------------------------------------------------------------------------------

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


# -- styles --------------------------------------------------------------------------------------------------------

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


# -- loading -------------------------------------------------------------------------------------------------------

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


def test_large_scan_is_reduced_while_decoding(tmp_path):
    Image.new("RGB", (6000, 8000), (200, 100, 50)).save(tmp_path / "scan.jpg", quality=80)
    x, hw = load_page(tmp_path / "scan.jpg", 1024)
    assert hw == (8000, 6000) and tuple(x.shape) == (3, 1024, 768)
    assert abs(x[0].mean().item() - 200 / 255) < 0.02


# -- very large pages ----------------------------------------------------------------------------------------------

@pytest.fixture
def limit():
    from comicsal import data
    yield data
    data.set_max_pixels(None)


def test_max_pixels_setting_env_and_default(limit, monkeypatch):
    monkeypatch.delenv("COMICSAL_MAX_PIXELS", raising=False)
    assert limit.MAX_PIXELS_DEFAULT == 500_000_000 and limit.max_pixels() == 500_000_000
    monkeypatch.setenv("COMICSAL_MAX_PIXELS", "600_000_000")
    assert limit.max_pixels() == 600_000_000
    limit.set_max_pixels(1234)
    assert limit.max_pixels() == 1234                     # the explicit setting (--max-pixels) wins
    limit.set_max_pixels(None)
    assert limit.max_pixels() == 600_000_000
    monkeypatch.setenv("COMICSAL_MAX_PIXELS", "lots")
    with pytest.raises(ComicsalError, match="COMICSAL_MAX_PIXELS"):
        limit.max_pixels()
    with pytest.raises(ComicsalError, match="`max_pixels`"):
        limit.set_max_pixels(0)


def test_pages_over_the_limit_are_refused_with_the_fix(limit, tmp_path):
    for split in ("train",):
        for sub in ("images", "maps"):
            (tmp_path / sub / split).mkdir(parents=True); Image.new("L", (40, 40)).save(tmp_path / sub / split / "p.png")
    limit.set_max_pixels(1000)
    with pytest.raises(UnreadableImage) as e:
        limit.open_lazy(tmp_path / "images/train/p.png")
    msg = str(e.value)
    assert "p.png" in msg and "--max-pixels" in msg and "COMICSAL_MAX_PIXELS" in msg and "megapixels" in msg
    with pytest.raises(UnreadableImage, match="--max-pixels"):
        load_map(tmp_path / "maps/train/p.png")
    for verify in (True, False):
        rep = check_dataset(tmp_path, verify=verify, progress=False)
        assert not rep.ok and len(rep.unreadable) == 2 and "--max-pixels" in rep.unreadable[0]
    limit.set_max_pixels(1600)
    assert check_dataset(tmp_path, progress=False).ok


def test_scans_over_pils_own_limit_load_under_ours(limit, tmp_path):
    "PIL warns past 89.5 MP and refuses past 179 MP; comicsal's default (500 MP) takes such scans, silently."
    (tmp_path / "images/test").mkdir(parents=True)
    big = tmp_path / "images/test/big.tif"                        # TIFF checks PIL's limit again when decoding
    Image.new("1", (13500, 13500), 1).save(big, compression="tiff_lzw")      # 182 MP, 180 kB on disk
    Image.new("1", (9500, 9500), 1).save(tmp_path / "warn.png")              # 90 MP: PIL only warns
    pil_limit = Image.MAX_IMAGE_PIXELS
    with warnings.catch_warnings():
        warnings.simplefilter("error")                            # a DecompressionBombWarning fails the test
        with limit.open_lazy(big) as im: assert im.size == (13500, 13500)
        with open_image(tmp_path / "warn.png") as im: assert im.size == (9500, 9500)
        for verify in (False, True):
            rep = check_dataset(tmp_path, verify=verify, progress=False)
            assert rep.ok, rep.summary()
            assert rep.page_sizes["big"] == (13500, 13500)
    assert Image.MAX_IMAGE_PIXELS == pil_limit                   # PIL's own setting is put back


# -- scan formats, unsupported formats, broken and looping links ---------------------------------------------------

def test_scan_formats_are_pages_and_gif_is_named(tmp_path):
    for sub in ("images/train", "maps/train"): (tmp_path / sub).mkdir(parents=True)
    for i, ext in enumerate((".tif", ".TIFF", ".webp", ".bmp")):
        Image.new("RGB", (8, 6), (i, i, i)).save(tmp_path / "images/train" / f"p{i}{ext}")
        Image.new("L", (8, 6), 10 * i).save(tmp_path / "maps/train" / f"p{i}.png")
    Image.new("I;16", (8, 6), 65535).save(tmp_path / "maps/train/p4.tif")      # 16-bit TIFF map
    Image.new("RGB", (8, 6)).save(tmp_path / "images/train/p4.png")
    Image.new("RGB", (8, 6)).save(tmp_path / "images/train/anim.gif")
    (tmp_path / "images/train/notes.txt").write_text("x")
    rep = check_dataset(tmp_path, progress=False)
    assert rep.ok, rep.summary()
    assert sorted(p.stem for p in rep.discovery.pages) == ["p0", "p1", "p2", "p3", "p4"]
    assert load_map(tmp_path / "maps/train/p4.tif").max() == 1.0
    text = rep.summary()
    assert "unsupported format (convert to PNG): " in text and "anim.gif" in text
    assert "ignored (not an image): " in text and "notes.txt" in text
    assert not any("anim.gif" in line and "not an image" in line for line in text.splitlines())


def test_broken_and_looping_links_are_problems(tmp_path):
    for sub in ("images/train", "maps/train", "images/test"): (tmp_path / sub).mkdir(parents=True)
    Image.new("RGB", (8, 6)).save(tmp_path / "images/train/a.png"); Image.new("L", (8, 6)).save(tmp_path / "maps/train/a.png")
    os.symlink("nowhere/ghost.png", tmp_path / "images/test/ghost.png")
    os.symlink("loop.png", tmp_path / "images/test/loop.png")
    os.symlink(tmp_path / "images/train/a.png", tmp_path / "images/test/linked.png")      # a working link is fine
    rep = check_dataset(tmp_path, progress=False)
    assert not rep.ok
    probs = "\n".join(rep.problems)
    assert "ghost.png" in probs and "broken link" in probs and "nowhere/ghost.png" in probs
    assert "loop.png" in probs and "loop" in probs.replace("loop.png", "")
    assert [p.stem for p in rep.discovery.split("test")] == ["linked"]
    # a split folder that is a broken link is named too, not taken as absent
    os.symlink(tmp_path / "gone", tmp_path / "maps/val")
    (tmp_path / "images/val").mkdir(); Image.new("RGB", (8, 6)).save(tmp_path / "images/val/v.png")
    assert any("maps/val" in p and "broken link" in p for p in discover(tmp_path).problems)


# -- `data check` on things that are not datasets ------------------------------------------------------------------

def _check(*args):
    "`comicsal data check ARGS --no-progress`, run in this process (a subprocess would import torch once per call)."
    from comicsal.cli import main
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        rc = main(["data", "check", *map(str, args), "--no-progress"])
    return SimpleNamespace(returncode=rc, stdout=out.getvalue(), stderr=err.getvalue())


def test_check_on_odd_paths_says_what_is_wrong(tmp_path):
    (tmp_path / "afile").write_text("x")
    (tmp_path / "img_file/images").parent.mkdir(); (tmp_path / "img_file/images").write_text("x")
    (tmp_path / "bin_styles/images/test").mkdir(parents=True)
    Image.new("RGB", (4, 4)).save(tmp_path / "bin_styles/images/test/a.png")
    (tmp_path / "bin_styles/styles.csv").write_bytes(b"\xff\xfe\x00garbage\x80\x81")
    (tmp_path / "dotted/images/test/x.png").mkdir(parents=True)          # a folder named like a page
    (tmp_path / "dotted/images/v1.0").mkdir()
    Image.new("RGB", (4, 4)).save(tmp_path / "dotted/images/test/a.png")
    (tmp_path / "split_file/images").mkdir(parents=True); (tmp_path / "split_file/images/train").write_text("x")
    cases = {"afile": "is a file, not a dataset folder", "img_file": "is a file, not a folder",
             "bin_styles": "not UTF-8", "split_file": "is a file, not a folder"}
    for name, expected in cases.items():
        r = _check(tmp_path / name)
        assert r.returncode == 1 and "Traceback" not in r.stderr, (name, r.stderr)
        assert expected in r.stdout + r.stderr and name in r.stdout + r.stderr, (name, r.stdout, r.stderr)
    r = _check(tmp_path / "dotted")
    assert r.returncode == 0 and "Traceback" not in r.stderr, r.stdout + r.stderr
    assert "ignored (a folder): " in r.stdout and "x.png" in r.stdout and "v1.0" in r.stdout, r.stdout


def test_unreadable_folders_are_named(tmp_path, monkeypatch):
    "Root ignores permissions, so the denial is simulated."
    (tmp_path / "images/train").mkdir(parents=True)
    real = Path.iterdir
    def deny(self):
        if self.name == "train": raise PermissionError(13, "Permission denied", str(self))
        return real(self)
    monkeypatch.setattr(Path, "iterdir", deny)
    with pytest.raises(ComicsalError, match=r"images/train.*[Pp]ermission denied"):
        check_dataset(tmp_path, progress=False)


# -- torch ---------------------------------------------------------------------------------------------------------

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
