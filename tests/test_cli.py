"""comicsal.cli: the command itself: exit codes and messages of real processes, options it parses, warnings it shows or logs."""
import json
import os
import subprocess
import sys
import warnings
from pathlib import Path

import pytest
from commands import cli, no_traceback
from PIL import Image

BIN = Path(sys.executable).parent


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


def test_cli_structure_models(sample, tmp_path):
    r = subprocess.run([BIN / "comicsal", "predict", "--model", "panel-prior", "--fit", sample, "--images", sample,
                        "--split", "test", "--out", tmp_path / "p", "--no-progress"], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    r = subprocess.run([BIN / "comicsal", "train", "--data", sample, "--backbone", "none", "--long-side", "256",
                        "--epochs", "1", "--structure", "panels,text", "--out", tmp_path / "t", "--no-progress"],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert json.loads((tmp_path / "t/summary.json").read_text())["epochs"] == 1


def test_cli_run_exit_codes(sample, tmp_path):
    env = {**os.environ, "COMICSAL_RESULTS": str(tmp_path)}
    r = subprocess.run([BIN / "comicsal", "run", "evaluate", "-p", "model", "centre-bias", "-p", "data", str(sample),
                        "--no-progress"], capture_output=True, text=True, env=env)
    assert r.returncode == 0, r.stderr
    assert "without encryption" not in r.stderr and "Warning" not in r.stderr, r.stderr   # the kernel's chatter stays out
    folder = Path(r.stdout.strip().rsplit(" ", 1)[-1])
    assert folder.parent == tmp_path / "runs" and (folder / "metrics.json").is_file()
    r = subprocess.run([BIN / "comicsal", "run", "evaluate", "-p", "model", "nothing", "-p", "data", str(sample),
                        "--no-progress"], capture_output=True, text=True, env=env)
    assert r.returncode == 1 and "failed in cell" in r.stderr and "Traceback" not in r.stderr


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


BAD_NUMBERS = [
    ("train --data d --lr 0", "--lr", "a number > 0"), ("train --data d --lr nan", "--lr", "a number > 0"),
    ("train --data d --lr -1", "--lr", "a number > 0"), ("train --data d --crop 2", "--crop", "≥ 0 and ≤ 1"),
    ("train --data d --crop -1", "--crop", "≥ 0 and ≤ 1"), ("train --data d --patience -1", "--patience", "≥ 1"),
    ("train --data d --finetune-lr -1", "--finetune-lr", "> 0"), ("train --data d --epochs 0", "--epochs", "≥ 1"),
    ("train --data d --epochs -1", "--epochs", "≥ 1"), ("train --data d --batch-size 0", "--batch-size", "≥ 1"),
    ("train --data d --long-side -5", "--long-side", "≥ 64"), ("train --data d --long-side 8", "--long-side", "≥ 64"),
    ("train --data d --device banana", "--device", "not a device"),
    ("predict --model centre-bias --images i --out o --batch-size 0", "--batch-size", "≥ 1"),
    ("predict --model centre-bias --images i --out o --batch-size -2", "--batch-size", "≥ 1"),
    ("predict --model centre-bias --images i --out o --dpi 0", "--dpi", "≥ 10 and ≤ 1200"),
    ("predict --model centre-bias --images i --out o --device banana", "--device", "not a device"),
    ("predict --model comicsal --images i --out o --temporal 0", "--temporal", "≥ 1"),
    ("evaluate --reference centre --gt g --temporal --seconds 0", "--seconds", "> 0"),
    ("evaluate --reference centre --gt g --temporal --seconds -1", "--seconds", "> 0"),
    ("evaluate --reference centre --gt g --temporal --seconds inf", "--seconds", "> 0"),
    ("adapt --data d --out o --folds 1", "--folds", "≥ 2"),
    ("predict --model centre-bias --images i --out o --split banana", "--split", "choose from 'train', 'val', 'test'"),
    ("evaluate --reference centre --gt g --split banana", "--split", "choose from 'train', 'val', 'test'"),
]


@pytest.mark.parametrize("argv,flag,range_", BAD_NUMBERS, ids=[a for a, *_ in BAD_NUMBERS])
def test_bad_numbers_are_refused_with_their_range(tmp_path, monkeypatch, argv, flag, range_):
    "Refused by the parser, before anything is read or written, naming the option and its valid range."
    monkeypatch.chdir(tmp_path)
    status, out, err = cli(*argv.split())
    assert status == 2 and f"argument {flag}" in err and range_ in err, err
    no_traceback(err); assert list(tmp_path.iterdir()) == []
