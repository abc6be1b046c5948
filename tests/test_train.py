"""comicsal.train: resume reaches the same result, init, caches, divergence, and the default backbone beating the baselines."""
import json

import pytest
import torch
from commands import cli, corrupt, no_traceback

from comicsal.config import ComicsalError
from comicsal.data import discover
from comicsal.models import load_model, read_checkpoint
from comicsal.readout import ComicsalModel
from comicsal.train import FeatureCache, TrainConfig, _init_head, train

QUICK = ["--backbone", "none", "--long-side", "128", "--epochs", "3", "--no-progress"]


def tiny_cfg(sample, **kw):
    return TrainConfig(**{"data": str(sample), "backbone": "none", "long_side": 256, "epochs": 6, "patience": 100, **kw})


def test_resume_reaches_the_same_result(sample, tmp_path):
    full = train(tiny_cfg(sample), tmp_path / "full", progress=False)
    part = train(tiny_cfg(sample), tmp_path / "part", progress=False, stop_after=3)
    assert part == {"interrupted_after_epoch": 2}
    assert not (tmp_path / "part/model.pt").exists() and (tmp_path / "part/last.pt").is_file()
    resumed = train(TrainConfig(), tmp_path / "part", resume=True, progress=False)   # the config comes from last.pt
    a, b = read_checkpoint(tmp_path / "full/model.pt"), read_checkpoint(tmp_path / "part/model.pt")
    for k in a["state"]:
        assert torch.equal(a["state"][k], b["state"][k]), k
    assert full["val_ai4va"] == resumed["val_ai4va"] and full["val_mit"] == resumed["val_mit"]
    assert a["history"] == b["history"]


def test_output_folder_rules(sample, tmp_path):
    (tmp_path / "mine").mkdir(); (tmp_path / "mine/notes.txt").write_text("x")
    with pytest.raises(ComicsalError, match="`force=True`"):
        train(tiny_cfg(sample), tmp_path / "mine", progress=False)
    with pytest.raises(ComicsalError, match="last.pt does not exist"):
        train(tiny_cfg(sample), tmp_path / "nothing", resume=True, progress=False)


def test_init_from_a_checkpoint(sample, tmp_path):
    train(tiny_cfg(sample, epochs=2), tmp_path / "a", progress=False)
    m = ComicsalModel("none", long_side=256)
    _init_head(m, str(tmp_path / "a/model.pt"))
    saved = read_checkpoint(tmp_path / "a/model.pt")["state"]
    for k, v in m.head.state_dict().items():
        assert torch.equal(v, saved["head." + k])
    with pytest.raises(ComicsalError, match="use `backbone='none'`"):
        _init_head(ComicsalModel("efficientnet-lite0", long_side=256), str(tmp_path / "a/model.pt"))
    s = train(tiny_cfg(sample, epochs=1, init=str(tmp_path / "a/model.pt")), tmp_path / "b", progress=False)
    assert s["epochs"] == 1


def test_disk_cache_matches_memory_and_is_reused(sample, tmp_path):
    m = ComicsalModel("none", long_side=256)
    pages = discover(sample).split("val")
    mem = FeatureCache(m, pages, progress=False)
    disk = FeatureCache(m, pages, tmp_path / "cache", progress=False)
    files = sorted((tmp_path / "cache").glob("*.pt"))
    assert len(files) == len(pages)
    for i in range(len(pages)):
        assert torch.equal(mem[i].feats, disk[i].feats) and torch.equal(mem[i].target, disk[i].target)
    mtimes = [f.stat().st_mtime_ns for f in files]
    FeatureCache(m, pages, tmp_path / "cache", progress=False)
    assert [f.stat().st_mtime_ns for f in files] == mtimes          # read, not recomputed


def test_feature_cache_names_every_unreadable_page(sample_copy, tmp_path):
    pages = sorted((sample_copy / "images" / "train").iterdir())
    corrupt(pages[0]); corrupt(pages[2])
    rc, _, err = cli("train", "--data", sample_copy, "--out", tmp_path / "run", *QUICK)
    assert rc == 1 and pages[0].name in err and pages[2].name in err and "2 of" in err, err
    no_traceback(err)


def test_diverging_training_stops_with_a_message(sample, tmp_path):
    rc, out, err = cli("train", "--data", sample, "--out", tmp_path / "run", "--lr", "1e30", *QUICK)
    assert rc == 1 and "diverged" in err and "--lr" in err, err
    no_traceback(err)
    assert not (tmp_path / "run" / "model.pt").exists() and not (tmp_path / "run" / "summary.json").exists()
    if (tmp_path / "run" / "last.pt").exists():     # whatever was kept is a good, finite checkpoint
        from comicsal.models import load_model
        load_model(tmp_path / "run" / "last.pt")


def test_baselines_train_and_reload(sample, tmp_path):
    for name in ("uniform", "centre-bias", "dataset-mean", "spectral-residual"):
        s = train(TrainConfig(data=str(sample), model=name), tmp_path / name, progress=False)
        assert s["val_ai4va"]["CC"] is not None
        assert load_model(tmp_path / name / "model.pt").name == name
    cb = json.loads((tmp_path / "centre-bias/val-ai4va/metrics.json").read_text())
    un = json.loads((tmp_path / "uniform/val-ai4va/metrics.json").read_text())
    assert cb["means"]["KLD"] < un["means"]["KLD"]


def test_default_backbone_beats_the_baselines(tmp_path):
    "Efficientnet-Lite0 features at 512 px on a small sample: better than centre bias and dataset mean under both protocols."
    from comicsal.synth import synth_dataset
    data = synth_dataset(tmp_path / "s", 10, 4, 0, seed=21, progress=False)
    res = {m: train(TrainConfig(data=str(data), model=m, long_side=512, epochs=40), tmp_path / m, progress=False)
           for m in ("comicsal", "centre-bias", "dataset-mean")}
    for proto in ("ai4va", "mit"):
        ours = res["comicsal"][f"val_{proto}"]
        for base in ("centre-bias", "dataset-mean"):
            theirs = res[base][f"val_{proto}"]
            assert ours["CC"] > theirs["CC"] + 0.2, (proto, base, ours, theirs)
            assert ours["KLD"] < theirs["KLD"], (proto, base, ours, theirs)


def test_resume_from_a_finished_model_or_a_text_file_is_refused_clearly(sample, tmp_path):
    "`last.pt` that is a model.pt once gave KeyError 'optimizer'; a text file was called a pickle that would run code."
    out = tmp_path / "m"
    args = ["train", "--data", str(sample), "--out", str(out), "--backbone", "none", "--long-side", "128", "--epochs", "1", "--no-progress"]
    assert cli(*args)[0] == 0
    (out / "last.pt").write_bytes((out / "model.pt").read_bytes())
    status, _, err = cli(*args, "--resume")
    assert status == 1 and "is a finished model" in err and "--init" in err; no_traceback(err)
    (out / "last.pt").write_text("hello")
    status, _, err = cli(*args, "--resume")
    assert status == 1 and "not a checkpoint file" in err and "run code" not in err; no_traceback(err)
