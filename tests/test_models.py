"""comicsal.models: checkpoints that are folders, pickles or not finite are refused with a message, never loaded."""
import math

import torch
from commands import cli, no_traceback


def test_nan_checkpoint_is_refused_by_predict(sample, tmp_path):
    from comicsal.models import read_checkpoint, save_checkpoint
    from comicsal.readout import ComicsalModel
    ck = read_checkpoint(save_checkpoint(tmp_path / "ok.pt", ComicsalModel("none", long_side=128)))
    ck["state"] = {k: torch.full_like(v, math.nan) if v.is_floating_point() else v for k, v in ck["state"].items()}
    torch.save(ck, tmp_path / "nan.pt")
    rc, _, err = cli("predict", "--checkpoint", tmp_path / "nan.pt", "--images", sample, "--out", tmp_path / "p", "--no-progress")
    assert rc == 1 and "not finite" in err and "nan.pt" in err, err
    no_traceback(err)


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
