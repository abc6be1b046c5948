"""comicsal.predict: any page mode and size, stems kept, reference-map sizes, overwrite rules, careless input."""
import zipfile

import numpy as np
import pytest
from commands import cli, corrupt, no_traceback, snapshot
from PIL import Image

from comicsal.config import ComicsalError
from comicsal.models import CentreBiasModel, SpectralResidualModel
from comicsal.predict import predict
from comicsal.readout import ComicsalModel


def test_pages_of_every_mode(tmp_path):
    d = tmp_path / "pages"; d.mkdir()
    Image.new("RGBA", (50, 70), (0, 0, 0, 0)).save(d / "rgba.png")
    Image.new("L", (60, 40), 128).save(d / "gray.PNG")
    Image.fromarray(np.full((30, 20), 40000, np.uint16)).save(d / "deep.png")
    Image.new("P", (40, 40)).save(d / "pal.png")
    Image.new("CMYK", (40, 50)).save(d / "cmyk.jpg")
    paths = predict(SpectralResidualModel(), d, tmp_path / "out", progress=False)
    assert sorted(p.stem for p in paths) == ["cmyk", "deep", "gray", "pal", "rgba"]
    for p in paths:
        src = next(d.glob(p.stem + ".*"))
        im = Image.open(p)
        assert im.mode == "L" and im.size == Image.open(src).size


def test_comicsal_model_predicts_any_size(tmp_path):
    d = tmp_path / "pages"; d.mkdir()
    for i, size in enumerate([(97, 203), (300, 120)]):
        Image.fromarray((np.random.default_rng(i).random((*size[::-1], 3)) * 255).astype(np.uint8)).save(d / f"p{i}.png")
    m = ComicsalModel("none", long_side=128)
    paths = predict(m, d, tmp_path / "out", progress=False)
    assert [Image.open(p).size for p in paths] == [(97, 203), (300, 120)]


def test_strips_and_extreme_aspects_get_full_maps(tmp_path):
    "A vertical webtoon strip (690×14000) and 2000×50 / 500×25 bands: full-size maps from the shipped default and its slices, no traceback."
    d = tmp_path / "pages"; d.mkdir()
    rng = np.random.default_rng(0)
    strip = np.full((14000, 690, 3), 245, np.uint8)
    for y in range(300, 14000, 1400): strip[y:y + 500, 60:630] = (rng.random((500, 570, 3)) * 255).astype(np.uint8)   # panels all the way down
    Image.fromarray(strip).save(d / "webtoon.png")
    for name, (w, h) in {"band": (2000, 50), "thin": (500, 25)}.items():
        Image.fromarray((rng.random((h, w, 3)) * 255).astype(np.uint8)).save(d / f"{name}.png")
    status, out, err = cli("predict", "--model", "comicsal", "--temporal", "3", "--images", str(d), "--out", str(tmp_path / "o"), "--no-progress")
    assert status == 0, err; no_traceback(err)
    sizes = {p.stem: Image.open(p).size for p in (tmp_path / "o").glob("*.png")}
    assert sizes == {"webtoon": (690, 14000), "band": (2000, 50), "thin": (500, 25)}
    m = np.asarray(Image.open(tmp_path / "o" / "webtoon.png"), np.float64)
    quarters = [m[i * 3500:(i + 1) * 3500].sum() / m.sum() for i in range(4)]
    assert all(0.2 < q < 0.3 for q in quarters), quarters              # the map covers the whole strip, evenly (tiles)
    panels = np.zeros(14000, bool)
    for y in range(300, 14000, 1400): panels[y:y + 500] = True
    assert m[panels].mean() > 2 * m[~panels].mean()                     # on the panels, not the gutters (read whole: 0.9×)
    assert all(Image.open(tmp_path / "o" / f"t{j}" / "webtoon.png").size == (690, 14000) for j in range(3))


def test_like_zip_and_overwrite(sample, tmp_path):
    out = tmp_path / "pred"
    paths = predict(CentreBiasModel(), sample, out, split="val", like=sample / "maps/val",
                    zip_path=tmp_path / "pred.zip", progress=False)
    assert {Image.open(p).size for p in paths} == {(512, 512)}
    assert sorted(zipfile.ZipFile(tmp_path / "pred.zip").namelist()) == sorted(p.name for p in paths)
    with pytest.raises(ComicsalError, match="`force=True`"):
        predict(CentreBiasModel(), sample, out, split="val", progress=False)
    predict(CentreBiasModel(), sample, out, split="val", force=True, progress=False)
    with pytest.raises(ComicsalError, match="no pages in split 'dev'"):
        predict(CentreBiasModel(), sample, tmp_path / "x", split="dev", progress=False)


# -- predict never writes into (or around) its input ---------------------------------------------------------------

@pytest.mark.parametrize("where", ["images/test", "images", ".", "preds-inside", ".."])
def test_predict_never_writes_into_or_around_its_input(sample_copy, where):
    before = snapshot(sample_copy)
    out = sample_copy / where if where != "preds-inside" else sample_copy / "images" / "test" / "preds"
    for images in (sample_copy, sample_copy / "images" / "test"):
        rc, _, err = cli("predict", "--model", "centre-bias", "--images", images, "--out", out, "--force", "--zip", "--no-progress")
        assert rc == 1 and "overlaps the input" in err, err
        no_traceback(err)
    assert snapshot(sample_copy) == before           # not one byte of the dataset changed
    assert not list(sample_copy.parent.rglob("*.zip"))


def test_predict_refuses_the_like_folder(sample_copy, tmp_path):
    before = snapshot(sample_copy / "maps")
    rc, _, err = cli("predict", "--model", "centre-bias", "--images", sample_copy, "--split", "val",
                     "--like", sample_copy / "maps" / "val", "--out", sample_copy / "maps" / "val", "--force", "--no-progress")
    assert rc == 1 and "overlaps" in err
    assert snapshot(sample_copy / "maps") == before


def test_out_folder_with_a_dot(sample, tmp_path):
    rc, out, err = cli("predict", "--model", "centre-bias", "--images", sample, "--out", tmp_path / "some" / "preds.v2", "--no-progress")
    assert rc == 0, err
    assert len(list((tmp_path / "some" / "preds.v2").glob("*.png"))) == 2


# -- one bad page does not stop a batch ----------------------------------------------------------------------------

@pytest.mark.parametrize("batch", ["1", "3"])
def test_corrupt_page_among_good_ones(sample_copy, tmp_path, batch):
    pages = sorted((sample_copy / "images" / "val").iterdir())
    corrupt(pages[1])
    out = tmp_path / "pred"
    rc, _, err = cli("predict", "--model", "centre-bias", "--images", sample_copy, "--split", "val", "--out", out,
                     "--zip", "--batch-size", batch, "--no-progress")
    assert rc == 1 and pages[1].name in err and "could not be predicted" in err, err
    no_traceback(err)
    assert sorted(p.stem for p in out.glob("*.png")) == sorted(p.stem for p in pages if p != pages[1])
    z = zipfile.ZipFile(tmp_path / "pred.zip")
    assert len(z.namelist()) == len(pages) - 1 and pages[1].stem.encode() in z.comment


def test_pages_over_the_pixel_limit(tmp_path):
    d = tmp_path / "pages"; d.mkdir()
    Image.new("L", (300, 200), 128).save(d / "big.png")
    Image.new("L", (30, 20), 128).save(d / "small.png")
    rc, _, err = cli("predict", "--model", "centre-bias", "--images", d, "--out", tmp_path / "p", "--max-pixels", "10000", "--no-progress")
    assert rc == 1 and "big.png" in err and "--max-pixels" in err, err
    no_traceback(err)
    assert [p.name for p in (tmp_path / "p").iterdir()] == ["small.png"]
    from comicsal.data import MAX_PIXELS_DEFAULT, max_pixels
    assert max_pixels() == MAX_PIXELS_DEFAULT              # the option does not outlive the command


@pytest.mark.parametrize("bad", ["a\nb", "a\\b", "tab\there"])
def test_zip_entry_names_are_refused_when_unsafe(tmp_path, bad):
    d = tmp_path / "pages"; d.mkdir()
    Image.new("RGB", (40, 30)).save(d / "good.png")
    Image.new("RGB", (40, 30)).save(d / f"{bad}.png")
    rc, _, err = cli("predict", "--model", "centre-bias", "--images", d, "--out", tmp_path / "p", "--zip", "--no-progress")
    assert rc == 1 and "rename it" in err, err
    assert zipfile.ZipFile(tmp_path / "p.zip").namelist() == ["good.png"]
