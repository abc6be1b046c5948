"""Careless and hostile input: nothing writes outside its folder, loses a file, or shows a traceback (issue 10).

Each test drives the `comicsal` command in-process (as a user would type it) or the function behind it, and checks
both the outcome (files, exit status) and what the user reads (one message naming the file and the fix)."""
import math
import warnings
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from comicsal.cli import run_captured
from comicsal.config import ComicsalError

QUICK = ["--backbone", "none", "--long-side", "128", "--epochs", "3", "--no-progress"]


def cli(*argv):
    "Run the command in-process: (status, stdout, stderr)."
    return run_captured(argv)


def no_traceback(err: str):
    assert "Traceback" not in err and "File \"" not in err, err


def snapshot(folder: Path) -> dict:
    return {p: p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def corrupt(path: Path):
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 40)


# --- 2. predict never overwrites its input ------------------------------------------------------------------
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


# --- 3. one bad page does not stop a batch -----------------------------------------------------------------
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


def test_evaluate_scores_the_readable_pages_and_names_the_rest(sample_copy, tmp_path):
    pred = tmp_path / "pred"
    cli("predict", "--model", "centre-bias", "--images", sample_copy, "--split", "val", "--out", pred,
        "--like", sample_copy / "maps" / "val", "--no-progress")
    bad = sorted(pred.glob("*.png"))[0]
    corrupt(bad)
    rc, out, err = cli("evaluate", "--pred", pred, "--gt", sample_copy, "--out", tmp_path / "ev", "--no-progress")
    assert rc == 1 and bad.name in err, err
    no_traceback(err)
    import json
    m = json.loads((tmp_path / "ev" / "metrics.json").read_text())
    assert m["n"] == len(list(pred.glob("*.png"))) - 1 and [f["stem"] for f in m["failed"]] == [bad.stem]


def test_feature_cache_names_every_unreadable_page(sample_copy, tmp_path):
    pages = sorted((sample_copy / "images" / "train").iterdir())
    corrupt(pages[0]); corrupt(pages[2])
    rc, _, err = cli("train", "--data", sample_copy, "--out", tmp_path / "run", *QUICK)
    assert rc == 1 and pages[0].name in err and pages[2].name in err and "2 of" in err, err
    no_traceback(err)


# --- 4. divergence ------------------------------------------------------------------------------------------
def test_diverging_training_stops_with_a_message(sample, tmp_path):
    rc, out, err = cli("train", "--data", sample, "--out", tmp_path / "run", "--lr", "1e30", *QUICK)
    assert rc == 1 and "diverged" in err and "--lr" in err, err
    no_traceback(err)
    assert not (tmp_path / "run" / "model.pt").exists() and not (tmp_path / "run" / "summary.json").exists()
    if (tmp_path / "run" / "last.pt").exists():     # whatever was kept is a good, finite checkpoint
        from comicsal.models import load_model
        load_model(tmp_path / "run" / "last.pt")


def test_nan_checkpoint_is_refused_by_predict(sample, tmp_path):
    from comicsal.models import read_checkpoint, save_checkpoint
    from comicsal.readout import ComicsalModel
    ck = read_checkpoint(save_checkpoint(tmp_path / "ok.pt", ComicsalModel("none", long_side=128)))
    ck["state"] = {k: torch.full_like(v, math.nan) if v.is_floating_point() else v for k, v in ck["state"].items()}
    torch.save(ck, tmp_path / "nan.pt")
    rc, _, err = cli("predict", "--checkpoint", tmp_path / "nan.pt", "--images", sample, "--out", tmp_path / "p", "--no-progress")
    assert rc == 1 and "not finite" in err and "nan.pt" in err, err
    no_traceback(err)


def test_metrics_out_of_range_never_reach_a_file(tmp_path):
    from comicsal.metrics import EvalResult
    res = EvalResult("ai4va", [{"stem": "a", "style": "toon", "AUC": -2.11, "CC": 0.1, "KLD": 1.0, "SIM": 0.2}])
    with pytest.raises(ComicsalError, match="outside"):
        res.write(tmp_path / "ev")
    assert not (tmp_path / "ev" / "metrics.json").exists()


def test_nan_predictions_are_not_scored(sample):
    from comicsal.metrics import evaluate
    res = evaluate(lambda stem, shape: np.full(shape, np.nan), sample, "ai4va", progress=False)
    assert res.rows == [] and len(res.failed) == 4 and "NaN" in res.failed[0]["reason"]


# --- 5. interrupted runs, run names -------------------------------------------------------------------------
def test_interrupted_run_is_marked_and_skipped(sample, tmp_path, monkeypatch):
    import papermill

    from comicsal.runs import run_pipeline
    from comicsal.zoo import latest_run

    def interrupted(*a, **k): raise KeyboardInterrupt
    monkeypatch.setattr(papermill, "execute_notebook", interrupted)
    with pytest.raises(KeyboardInterrupt):
        run_pipeline("evaluate", {"model": "centre-bias", "data": str(sample)}, root=tmp_path, progress=False)
    folder = next(tmp_path.glob("*-evaluate"))
    assert "interrupted" in (folder / "FAILED").read_text() and not (folder / "RUNNING").exists()
    (tmp_path / "20990101T000000Z-evaluate").mkdir()                   # killed outright: RUNNING stays
    (tmp_path / "20990101T000000Z-evaluate" / "RUNNING").write_text("")
    with pytest.raises(ComicsalError, match="no successful run"):
        latest_run("evaluate", tmp_path)


@pytest.mark.parametrize("name", ["../x", "../01_data", "ESCAPE", "/tmp/x", "..", "a/b", "", "-p"])
def test_run_names_cannot_leave_the_runs_folder(tmp_path, monkeypatch, name):
    import os

    import nbformat

    from comicsal.runs import pipelines_dir
    monkeypatch.setenv("COMICSAL_RESULTS", str(tmp_path / "results"))
    if name == "ESCAPE":     # a notebook that exists, reached through ../ — its run folder would land outside results/runs
        nbformat.write(nbformat.v4.new_notebook(metadata={"kernelspec": {"name": "python3", "display_name": "python3", "language": "python"}}),
                       tmp_path / "evil.ipynb")
        name = os.path.relpath(tmp_path / "evil", pipelines_dir())
    rc, _, err = cli("run", name, "--no-progress")
    assert rc in (1, 2)
    no_traceback(err)
    assert not (tmp_path / "results").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) in ([], ["evil.ipynb"])


# --- 6. messages, not tracebacks ----------------------------------------------------------------------------
def test_out_folder_with_a_dot(sample, tmp_path):
    rc, out, err = cli("predict", "--model", "centre-bias", "--images", sample, "--out", tmp_path / "some" / "preds.v2", "--no-progress")
    assert rc == 0, err
    assert len(list((tmp_path / "some" / "preds.v2").glob("*.png"))) == 2


def test_out_that_is_a_file(sample, tmp_path):
    f = tmp_path / "notes.txt"; f.write_text("mine")
    for argv in (["predict", "--model", "centre-bias", "--images", sample, "--out", f, "--force"],
                 ["evaluate", "--reference", "centre", "--gt", sample, "--out", f, "--force"],
                 ["train", "--data", sample, "--model", "centre-bias", "--out", f, "--force"],
                 ["data", "synth", "--out", f, "--force", "--n-train", "1", "--n-val", "0", "--n-test", "0"]):
        rc, _, err = cli(*argv, "--no-progress")
        assert rc == 1 and "is a file" in err, (argv, err)
        no_traceback(err)
    assert f.read_text() == "mine"


def test_unwritable_evaluate_out_is_found_before_scoring(sample, tmp_path, monkeypatch):
    import comicsal.metrics
    def never(*a, **k): raise AssertionError("scored before checking --out")
    monkeypatch.setattr(comicsal.metrics, "evaluate", never)
    blocker = tmp_path / "file"; blocker.write_text("x")
    rc, _, err = cli("evaluate", "--reference", "centre", "--gt", sample, "--out", blocker / "ev", "--no-progress")
    assert rc == 1 and "cannot be written" in err, err
    no_traceback(err)


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


# --- 7. smaller ---------------------------------------------------------------------------------------------
def test_checkpoint_that_is_a_folder(tmp_path, sample):
    (tmp_path / "run").mkdir()
    rc, _, err = cli("predict", "--checkpoint", tmp_path / "run", "--images", sample, "--out", tmp_path / "p", "--no-progress")
    assert rc == 1 and "is a folder" in err and "does not exist" not in err, err


def test_pickle_checkpoint_message_does_not_advise_unsafe_loading(tmp_path, sample):
    import pickle
    class Evil:                                            # a class whose unpickling would run code
        def __reduce__(self): return (print, ("pwned",))
    torch.save({"format": "comicsal-checkpoint-1", "x": Evil()}, tmp_path / "evil.pt", pickle_module=pickle)
    rc, out, err = cli("predict", "--checkpoint", tmp_path / "evil.pt", "--images", sample, "--out", tmp_path / "p", "--no-progress")
    assert rc == 1 and "evil.pt" in err and "weights_only" not in err and "pwned" not in out + err, err


def test_evaluate_warns_once_about_resizing_and_self_scoring(sample, tmp_path):
    rc, out, err = cli("predict", "--model", "centre-bias", "--images", sample, "--split", "val", "--out", tmp_path / "p", "--no-progress")
    rc, out, err = cli("evaluate", "--pred", tmp_path / "p", "--gt", sample, "--out", tmp_path / "ev", "--no-progress")
    assert rc == 0 and err.count("comicsal: warning:") == 1 and "resized" in err, err
    rc, out, err = cli("evaluate", "--pred", sample / "maps" / "val", "--gt", sample, "--out", tmp_path / "ev2", "--no-progress")
    assert rc == 0 and "ground-truth folder itself" in err, err


def test_per_image_csv_line_ends_and_empty_cells(tmp_path):
    from comicsal.metrics import EvalResult
    rows = [{"stem": "a", "style": "toon", "AUC": 0.8, "CC": 0.3, "KLD": 1.0, "SIM": 0.4},
            {"stem": "b", "style": "toon", "AUC": math.nan, "CC": 0.2, "KLD": 1.1, "SIM": 0.3}]   # AUC undefined
    EvalResult("ai4va", rows).write(tmp_path / "ev")
    raw = (tmp_path / "ev" / "per_image.csv").read_bytes()
    assert b"\r\n" not in raw and b"nan" not in raw.lower()
    assert raw.splitlines()[2] == b"b,toon,,0.2,1.1,0.3"


@pytest.mark.parametrize("bad", ["a\nb", "a\\b", "tab\there"])
def test_zip_entry_names_are_refused_when_unsafe(tmp_path, bad):
    d = tmp_path / "pages"; d.mkdir()
    Image.new("RGB", (40, 30)).save(d / "good.png")
    Image.new("RGB", (40, 30)).save(d / f"{bad}.png")
    rc, _, err = cli("predict", "--model", "centre-bias", "--images", d, "--out", tmp_path / "p", "--zip", "--no-progress")
    assert rc == 1 and "rename it" in err, err
    assert zipfile.ZipFile(tmp_path / "p.zip").namelist() == ["good.png"]


def test_resume_says_which_options_it_ignores(sample, tmp_path):
    from comicsal.train import TrainConfig, train
    train(TrainConfig(data=str(sample), backbone="none", long_side=128, epochs=3), tmp_path / "run",
          progress=False, stop_after=1, evaluate_val=False)
    rc, out, err = cli("train", "--data", sample, "--out", tmp_path / "run", "--resume", "--backbone", "none",
                       "--long-side", "128", "--epochs", "50", "--no-progress")
    assert rc == 0, err
    assert "comicsal: warning: --resume continues the saved run" in err and "--epochs 50 (the run's: 3)" in err, err


def test_other_libraries_warnings_go_to_the_log(tmp_path, monkeypatch):
    import comicsal.cli
    monkeypatch.setenv("COMICSAL_LOG", str(tmp_path / "log.txt"))
    def noisy(a):
        warnings.warn("some library's advice", DeprecationWarning, stacklevel=2); return 0
    monkeypatch.setattr(comicsal.cli, "_book", noisy)
    rc, out, err = cli("book")
    assert rc == 0 and "advice" not in err and "advice" in (tmp_path / "log.txt").read_text()
