"""comicsal.priors: the panel prior beats the centre bias, and shows the panels of a real page."""
import numpy as np
from conftest import OPENMANTRA, needs_openmantra
from PIL import Image

from comicsal.cli import run_captured
from comicsal.train import TrainConfig, train


def test_panel_prior_beats_the_centre_bias_on_the_sample(sample, tmp_path):
    res = {m: train(TrainConfig(data=str(sample), model=m), tmp_path / m, progress=False)
           for m in ("centre-bias", "panel-prior", "text-prior")}
    for proto in ("ai4va", "mit"):
        assert res["panel-prior"][f"val_{proto}"]["KLD"] < res["centre-bias"][f"val_{proto}"]["KLD"], res
        assert res["panel-prior"][f"val_{proto}"]["CC"] > res["centre-bias"][f"val_{proto}"]["CC"], res


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
