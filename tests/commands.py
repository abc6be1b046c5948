"""Running the `comicsal` command in tests: in-process as a user would type it, or as processes (under torchrun)."""
import os
import subprocess
import sys
from pathlib import Path

from comicsal.cli import run_captured

BIN = Path(sys.executable).parent
ENV = {**os.environ, "OMP_NUM_THREADS": "1"}


def cli(*argv):
    "Run the command in-process: (status, stdout, stderr)."
    return run_captured(argv)


def no_traceback(err: str):
    assert "Traceback" not in err and "File \"" not in err, err


def snapshot(folder: Path) -> dict:
    return {p: p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def corrupt(path: Path):
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 40)


def run_process(args, cwd, ranks=None):
    "`comicsal ARGS --no-progress` as a process in `cwd`, or under torchrun with `ranks` CPU ranks: the finished process."
    cmd = ([BIN / "torchrun", "--standalone", "--nproc-per-node", str(ranks), "-m", "comicsal"] if ranks
           else [sys.executable, "-m", "comicsal"]) + [str(a) for a in args] + ["--no-progress"]
    r = subprocess.run(cmd, cwd=cwd, env=ENV, capture_output=True, text=True, timeout=900)
    return r
