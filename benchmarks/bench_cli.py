"""Start-up time of the command line: `comicsal --help` and `comicsal <cmd> --help` (issue 20's target: under 1 s).

Prints the median wall time of each over a few runs, in a fresh process each time. Asserts nothing.
    python benchmarks/bench_cli.py [--repeat 3]
"""
import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path

BIN = Path(sys.executable).parent / "comicsal"
COMMANDS = [[], ["data", "check"], ["evaluate"], ["train"], ["predict"], ["run"], ["structure", "detect"], ["book"]]

def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=3)
    a = ap.parse_args()
    print(f"{'command':<36}{'median s':>10}{'min s':>8}")
    for cmd in COMMANDS:
        times = []
        for _ in range(a.repeat):
            t = time.perf_counter()
            subprocess.run([BIN, *cmd, "--help"], capture_output=True, check=True)
            times.append(time.perf_counter() - t)
        print(f"{' '.join(['comicsal', *cmd, '--help']):<36}{statistics.median(times):>10.2f}{min(times):>8.2f}")

if __name__ == "__main__":
    main()
