"""comicsal.dist: torchrun with CPU ranks (gloo) predicts and trains like one process (the scaling-out chapter)."""
import filecmp
import json
import zipfile

import numpy as np
import pytest
from commands import run_process as _run

from comicsal.synth import synth_dataset


@pytest.fixture(scope="module")
def pages(tmp_path_factory):
    return synth_dataset(tmp_path_factory.mktemp("dist") / "s", 10, 4, 5, seed=7, progress=False)


def test_sharded_predict_equals_one_process(pages, tmp_path):
    one = _run(["predict", "--model", "comicsal", "--images", pages, "--out", tmp_path / "one", "--zip"], tmp_path)
    assert one.returncode == 0, one.stderr
    two = _run(["predict", "--model", "comicsal", "--images", pages, "--out", tmp_path / "two", "--zip"], tmp_path, ranks=2)
    assert two.returncode == 0, two.stderr + two.stdout
    assert two.stdout.count("wrote 5 maps") == 1                        # rank 0 reports, once
    names = sorted(p.name for p in (tmp_path / "two").iterdir())
    assert names == sorted(p.name for p in (tmp_path / "one").iterdir()) and len(names) == 5   # each page once, no temp files
    assert all(filecmp.cmp(tmp_path / "one" / n, tmp_path / "two" / n, shallow=False) for n in names)
    with zipfile.ZipFile(tmp_path / "two.zip") as z: assert sorted(z.namelist()) == names


def test_resumed_sharded_predict_skips_done_pages(pages, tmp_path):
    out = tmp_path / "p"
    assert _run(["predict", "--model", "centre-bias", "--images", pages, "--out", out], tmp_path).returncode == 0
    maps = sorted(out.iterdir()); gone = maps[:2]
    for m in gone: m.unlink()
    before = {m.name: m.stat().st_mtime_ns for m in maps[2:]}
    refused = _run(["predict", "--model", "centre-bias", "--images", pages, "--out", out], tmp_path, ranks=2)
    assert refused.returncode == 1 and "--force" in refused.stderr and refused.stderr.count("comicsal: error") == 1
    r = _run(["predict", "--model", "centre-bias", "--images", pages, "--out", out, "--resume"], tmp_path, ranks=2)
    assert r.returncode == 0, r.stderr
    assert all(m.is_file() for m in gone)                                 # the missing maps are written again
    assert {m.name: m.stat().st_mtime_ns for m in maps[2:]} == before     # the others are not touched


def test_two_rank_training_matches_one_process_and_beats_centre(pages, tmp_path):
    args = ["train", "--data", pages, "--long-side", "256", "--epochs", "6", "--batch-size", "4", "--cache-dir", tmp_path / "cache"]
    one = _run(args + ["--cache", "disk", "--out", tmp_path / "one"], tmp_path)
    assert one.returncode == 0, one.stderr
    two = _run(args + ["--out", tmp_path / "two"], tmp_path, ranks=2)      # no --cache disk: torchrun chooses it, and says so
    assert two.returncode == 0, two.stderr + two.stdout
    assert two.stderr.count("share the feature cache on disk") == 1, two.stderr
    h1 = np.genfromtxt(tmp_path / "one" / "history.csv", delimiter=",", names=True)
    h2 = np.genfromtxt(tmp_path / "two" / "history.csv", delimiter=",", names=True)
    assert len(h1) == len(h2) and np.allclose(h1["train_loss"], h2["train_loss"], rtol=1e-4)
    assert np.allclose(h1["val_KLD"], h2["val_KLD"], rtol=1e-4)
    s2 = json.loads((tmp_path / "two" / "summary.json").read_text())
    assert s2["ranks"] == 2
    from comicsal.metrics import evaluate
    centre = evaluate("centre", pages, "ai4va", progress=False).summary()["means"]
    assert s2["val_ai4va"]["CC"] > centre["CC"] and s2["val_ai4va"]["KLD"] < centre["KLD"], (s2["val_ai4va"], centre)
    # a killed multi-process run resumes from rank 0's last.pt
    r = _run(args + ["--out", tmp_path / "two", "--resume"], tmp_path, ranks=2)
    assert r.returncode == 0, r.stderr


def test_two_rank_finetuning_matches_one_process(pages, tmp_path):
    """DDP over the readout and the unfrozen backbone blocks: the same global batches give the same run (every rank
    pads its pages to the global batch's size, as one process does)."""
    args = ["train", "--data", pages, "--backbone", "none", "--long-side", "128", "--epochs", "2", "--batch-size", "4",
            "--finetune", "last:2"]
    one = _run(args + ["--out", tmp_path / "one"], tmp_path)
    two = _run(args + ["--out", tmp_path / "two"], tmp_path, ranks=2)
    assert one.returncode == 0 and two.returncode == 0, one.stderr + two.stderr
    h1 = np.genfromtxt(tmp_path / "one" / "history.csv", delimiter=",", names=True)
    h2 = np.genfromtxt(tmp_path / "two" / "history.csv", delimiter=",", names=True)
    assert np.allclose(h1["train_loss"], h2["train_loss"], rtol=1e-4) and np.allclose(h1["val_KLD"], h2["val_KLD"], rtol=1e-4)
