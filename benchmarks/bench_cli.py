"""Start-up time of the command line: `comicsal --help` and `comicsal <cmd> --help` (issue 20's target: under 1 s).

Prints the median wall time of each over a few runs, in a fresh process each time, of the package in this checkout
(its folder goes first on PYTHONPATH). Asserts nothing.
    python benchmarks/bench_cli.py [--repeat 3]
"""
import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent / "comicsal"
COMMAND = [str(BIN)] if BIN.exists() else [sys.executable, "-m", "comicsal"]
COMMANDS = [[], ["data"], ["data", "fetch"], ["data", "check"], ["data", "synth"], ["data", "simulate"], ["evaluate"],
            ["train"], ["predict"], ["run"], ["book"], ["structure"], ["structure", "detect"], ["structure", "evaluate"]]

def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=3)
    a = ap.parse_args()
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH")) if p)}
    print(f"{'command':<36}{'median s':>10}{'min s':>8}")
    for cmd in COMMANDS:
        times = []
        for _ in range(a.repeat):
            t = time.perf_counter()
            subprocess.run([*COMMAND, *cmd, "--help"], capture_output=True, check=True, env=env, cwd=ROOT)
            times.append(time.perf_counter() - t)
        print(f"{' '.join(['comicsal', *cmd, '--help']):<36}{statistics.median(times):>10.2f}{min(times):>8.2f}")

if __name__ == "__main__":
    main()
