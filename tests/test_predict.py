"""Prediction: any page mode and size, stems kept, bounded memory, sizes of reference maps, overwrite rules."""
import zipfile

import numpy as np
import pytest
from PIL import Image

from comicsal.config import ComicsalError
from comicsal.data import load_page
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


def test_large_scan_is_reduced_while_decoding(tmp_path):
    Image.new("RGB", (6000, 8000), (200, 100, 50)).save(tmp_path / "scan.jpg", quality=80)
    x, hw = load_page(tmp_path / "scan.jpg", 1024)
    assert hw == (8000, 6000) and tuple(x.shape) == (3, 1024, 768)
    assert abs(x[0].mean().item() - 200 / 255) < 0.02


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
