"""Headless Chromium for tests: the DOM after scripts ran, console errors, a screenshot."""
import shutil
import subprocess
import tempfile
from pathlib import Path

FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--virtual-time-budget=20000"]


def chromium() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        if shutil.which(name): return shutil.which(name)
    return None


def render(page: Path, screenshot: Path) -> tuple[str, list[str]]:
    "(DOM after load, console errors) of a local page; writes a screenshot."
    exe = chromium()
    with tempfile.TemporaryDirectory() as prof:
        r = subprocess.run([exe, *FLAGS, f"--user-data-dir={prof}", "--enable-logging=stderr", "--v=0", "--dump-dom",
                            page.resolve().as_uri()], capture_output=True, text=True, timeout=120)
        errors = [l for l in r.stderr.splitlines() if "CONSOLE" in l and ("Uncaught" in l or "Error" in l)]
    with tempfile.TemporaryDirectory() as prof:
        subprocess.run([exe, *FLAGS, f"--user-data-dir={prof}", "--window-size=1300,1700", f"--screenshot={screenshot}",
                        page.resolve().as_uri()], capture_output=True, text=True, timeout=120)
    return r.stdout, errors
