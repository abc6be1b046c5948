"""Peak memory and time of `comicsal predict` on one very large page (issue 25: a 400-megapixel page took 11.6 GB).

Writes a blank W×H PNG (default 20000×20000, 0.4 MB on disk) into a temporary folder, predicts it in a fresh
process and prints the child's peak resident memory and wall time. Asserts nothing.
    python benchmarks/bench_memory.py [--side 20000] [--model centre-bias]
"""
import argparse
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from PIL import Image

BIN = Path(sys.executable).parent / "comicsal"


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--side", type=int, default=20000, help="the page is side × side pixels")
    ap.add_argument("--model", default="centre-bias")
    a = ap.parse_args()
    with tempfile.TemporaryDirectory() as d:
        (Path(d) / "pages").mkdir()
        Image.new("L", (a.side, a.side), 255).save(Path(d) / "pages" / "big.png")     # (PIL's limit is checked on opening, not here)
        t = time.perf_counter()
        r = subprocess.run([str(BIN), "predict", "--model", a.model, "--images", Path(d) / "pages", "--out", Path(d) / "p",
                            "--no-progress"], capture_output=True, text=True)
        wall = time.perf_counter() - t
        peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1e6      # kB → GB (Linux)
        print(f"predict --model {a.model}, one {a.side}×{a.side} page ({a.side ** 2 / 1e6:.0f} MP): exit {r.returncode}, "
              f"peak RSS {peak:.2f} GB, {wall:.1f} s" + (f"\n{r.stderr.strip()}" if r.returncode else ""))


if __name__ == "__main__":
    main()
