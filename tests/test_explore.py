"""comicsal.explore: the explorer live in JupyterLab, checked in headless Chromium."""
# A real `jupyter lab` server, a notebook that builds the `Explorer`, run in headless Chromium (Playwright driving
# Debian's chromium; never `playwright install`), and assertions on what the browser shows: the first view, the page
# slider, a clean console.
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import numpy as np
import pytest
from browser import chromium

try:
    from playwright.sync_api import sync_playwright
except ImportError:   # a dev requirement; missing only in a venv made before it was added
    sync_playwright = None

pytestmark = [
    pytest.mark.skipif(chromium() is None, reason="Chromium is not installed (.ci/run installs Debian's chromium)"),
    pytest.mark.skipif(sync_playwright is None, reason="playwright is not installed (pip install -c constraints.txt playwright)"),
]

BIN = Path(sys.executable).parent
T = 60_000   # ms: the bound of every wait in the browser


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0)); return s.getsockname()[1]


def _notebook(path: Path, data: Path, pred: Path):
    src = ("from comicsal.explore import Explorer\n"
           f"ex = Explorer({str(data)!r}, splits=('val',), preds={{'blurred': {str(pred)!r}}})\n"
           "ex")
    nb = {"cells": [{"cell_type": "code", "execution_count": None, "id": "explorer", "metadata": {}, "outputs": [], "source": src}],
          "metadata": {"kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"}},
          "nbformat": 4, "nbformat_minor": 5}
    path.write_text(json.dumps(nb))


@pytest.fixture
def lab(tmp_path):
    "A `jupyter lab` on 127.0.0.1 serving `tmp_path` (with a sample, one prediction folder and explorer.ipynb): (url, log)."
    from PIL import Image, ImageFilter

    from comicsal.synth import synth_dataset
    data = synth_dataset(tmp_path / "s", 2, 3, 0, seed=3, progress=False)
    # A stand-in prediction folder: the ground truth blurred (differs from it, so the difference layer has both
    # signs). The explorer only reads same-stem maps; no model needs to run for this test.
    (tmp_path / "pred").mkdir()
    for m in sorted((data / "maps" / "val").iterdir()):
        Image.open(m).filter(ImageFilter.GaussianBlur(12)).save(tmp_path / "pred" / m.name)
    # … with time slices as `predict --temporal 3` writes them (stand-ins: the top, middle and bottom thirds)
    for j in range(3):
        (tmp_path / "pred" / f"t{j}").mkdir()
        for m in sorted((data / "maps" / "val").iterdir()):
            a = np.asarray(Image.open(tmp_path / "pred" / m.name).convert("L")).copy(); h = a.shape[0]
            a[: j * h // 3] = 0; a[(j + 1) * h // 3:] = 0
            Image.fromarray(a).save(tmp_path / "pred" / f"t{j}" / m.name)
    _notebook(tmp_path / "explorer.ipynb", data, tmp_path / "pred")
    # Private config/data/runtime dirs: no user settings, workspaces or kernels leak in. The widget and plotly
    # labextensions and the python3 kernel live in the venv's share/jupyter, which Jupyter searches regardless.
    jdir = tmp_path / ".jupyter"
    notif = jdir / "config" / "lab" / "user-settings" / "@jupyterlab" / "apputils-extension" / "notification.jupyterlab-settings"
    notif.parent.mkdir(parents=True)
    notif.write_text(json.dumps({"fetchNews": "false", "checkForUpdates": False}))   # offline: no news/update checks
    env = {**os.environ, "JUPYTER_CONFIG_DIR": str(jdir / "config"), "JUPYTER_DATA_DIR": str(jdir / "data"),
           "JUPYTER_RUNTIME_DIR": str(jdir / "runtime"), "JUPYTER_PLATFORM_DIRS": "0"}
    port, token = _free_port(), os.urandom(16).hex()
    log = tmp_path / "lab.log"
    with open(log, "w") as out:
        proc = subprocess.Popen([str(BIN / "jupyter-lab"), "--no-browser", "--ip=127.0.0.1", f"--port={port}",
                                 "--ServerApp.port_retries=0", f"--IdentityProvider.token={token}",
                                 f"--ServerApp.root_dir={tmp_path}", "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
                                 "--LabApp.extension_manager=readonly", *(["--allow-root"] if os.geteuid() == 0 else [])],
                                cwd=tmp_path, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.monotonic() + 60
        while True:
            if proc.poll() is not None: pytest.fail(f"jupyter lab exited ({proc.returncode}):\n{log.read_text()[-3000:]}")
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/status?token={token}", timeout=2) as r:
                    if r.status == 200: break
            except OSError: pass
            if time.monotonic() > deadline: pytest.fail(f"jupyter lab did not answer in 60 s:\n{log.read_text()[-3000:]}")
            time.sleep(0.3)
        yield f"http://127.0.0.1:{port}/lab/tree/explorer.ipynb?token={token}", log
    finally:   # the server shuts its kernels down on SIGTERM; the group kill is the fallback
        proc.terminate()
        try: proc.wait(20)
        except subprocess.TimeoutExpired: pass
        try: os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError: pass
        proc.wait(10)


# What the browser has drawn: per trace of the explorer's plotly graph, its type, name, visibility (as plotly.js
# resolved it) and zmin (as given: plotly.js fills no defaults in for hidden traces); the heatmaps and colour bars
# drawn; the colour bars' text; the title; the page image's source.
STATE = """() => {
  const gd = document.querySelector('.jp-OutputArea .js-plotly-plot');
  if (!gd || !gd._fullData) return null;
  return {traces: gd._fullData.map((t, i) => ({type: t.type, name: t.name, visible: t.visible, zmin: gd.data[i].zmin})),
          heatmaps: gd.querySelectorAll('.heatmaplayer image').length,
          colorbars: gd.querySelectorAll('.colorbar').length,
          colorbarText: Array.from(gd.querySelectorAll('.colorbar text')).map(t => t.textContent).join(' | '),
          title: (gd.querySelector('.gtitle') || {}).textContent,
          source: (gd.data[0] || {}).source,
          zsum: gd.data.map(t => t.z ? t.z.flat().reduce((a, b) => a + b, 0) : null),
          zbottom: gd.data.map(t => t.z ? t.z.slice(Math.ceil(t.z.length / 2)).flat().reduce((a, b) => a + b, 0) : null),
          shapes: (gd.layout.shapes || []).length};
}"""


def test_explorer_live_in_jupyterlab(lab, tmp_path):
    url, log = lab
    errors = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium(), args=["--no-sandbox", "--disable-gpu"], headless=True)
        page = browser.new_page(viewport={"width": 1400, "height": 1100})
        try:
            page.set_default_timeout(T)
            page.on("console", lambda m: m.type == "error" and errors.append(f"console: {m.text}"))
            page.on("pageerror", lambda e: errors.append(f"pageerror: {e}"))
            page.goto(url, timeout=T)
            page.locator(".jp-Notebook .jp-Cell").first.wait_for()
            page.get_by_text("Python 3 (ipykernel) | Idle").wait_for()        # the status bar: the kernel is up
            page.get_by_role("menuitem", name="Run", exact=True).click()
            page.get_by_text("Run All Cells", exact=True).click()
            # the widget first draws an empty plot, then the figure: page, ground truth, the prediction, the difference
            page.wait_for_function(f"(({STATE})() || {{traces: []}}).traces.length === 4", timeout=T)
            page.wait_for_timeout(1500)            # let any late messages of the first draw arrive
            first = page.evaluate(STATE)
            page.screenshot(path=str(tmp_path / "first-view.png"), full_page=True)
            shown = [t["name"] for t in first["traces"][1:] if t["visible"] is True]
            assert first["traces"][0]["visible"] is True, first                      # the page image
            assert shown == ["ground truth"], f"layer box says page, ground truth; the browser shows {shown}"
            assert first["heatmaps"] == 1, first                                       # one overlay drawn, not a stack
            diff = first["traces"][-1]
            assert diff["name"] == "difference" and diff["zmin"] == -1, diff           # diverging, centred on 0
            assert first["colorbars"] == 0, first                                      # no colour bar while diff is hidden
            name = page.locator(".widget-dropdown", has=page.locator("label", has_text="name")).locator("select")
            assert name.input_value() and name.input_value() in first["title"], (name.input_value(), first["title"])
            # The page slider: a keyboard step on its handle moves to the next page.
            slider = page.locator(".widget-slider", has=page.locator("label", has_text="page")).first
            slider.locator(".noUi-handle").first.press("ArrowRight")
            page.wait_for_function(f"({STATE})().title !== {json.dumps(first['title'])}", timeout=T)
            after = page.evaluate(STATE)
            assert after["source"] != first["source"], "the page image did not change"
            assert [t["visible"] is True for t in after["traces"]] == [t["visible"] is True for t in first["traces"]]
            # The difference layer: shown with its colour bar, which says which sign is which.
            layers = page.locator(".widget-select-multiple select").first
            layers.select_option(["page", "difference"])
            page.wait_for_function(f"({STATE})().colorbars === 1", timeout=T)
            diffview = page.evaluate(STATE)
            page.screenshot(path=str(tmp_path / "difference.png"), full_page=True)
            assert [t["name"] for t in diffview["traces"][1:] if t["visible"] is True] == ["difference"], diffview
            assert "prediction higher" in diffview["colorbarText"] and "ground truth higher" in diffview["colorbarText"], diffview
            # The time slider (chapter 12): a step shows the predictions' first slice, and says so in the title.
            layers.select_option(["page", "blurred", "panel order"])
            page.wait_for_function(f"({STATE})().shapes >= 2", timeout=T)          # the panels, numbered by first visit
            static = page.evaluate(STATE)
            time_slider = page.locator(".widget-slider", has=page.locator("label", has_text="time")).first
            time_slider.locator(".noUi-handle").first.press("ArrowRight")
            page.wait_for_function(f"({STATE})().title.includes('slice 1/3')", timeout=T)
            sliced = page.evaluate(STATE)
            page.screenshot(path=str(tmp_path / "time-slice.png"), full_page=True)
            assert static["zbottom"][2] > 0 and sliced["zbottom"][2] == 0, (static, sliced)  # the top third only
            assert sliced["zsum"][1] == static["zsum"][1]                                  # the ground truth stays
            assert [t["name"] for t in sliced["traces"][1:] if t["visible"] is True] == ["blurred"], sliced
            # Pages without ground truth (a val folder of images only): explored, and the first view is the prediction
            shutil.copytree(tmp_path / "s", tmp_path / "bare", ignore=lambda d, names: names if d.endswith("maps/val") else [])
            _notebook(tmp_path / "bare.ipynb", tmp_path / "bare", tmp_path / "pred")
            page.goto(url.replace("explorer.ipynb?", "bare.ipynb?reset&"), timeout=T)      # reset: only this notebook open
            page.locator(".jp-Notebook .jp-Cell").first.wait_for()
            page.get_by_text("Python 3 (ipykernel) | Idle").wait_for()
            page.get_by_role("menuitem", name="Run", exact=True).click()
            page.get_by_text("Run All Cells", exact=True).click()
            page.wait_for_function(f"(({STATE})() || {{traces: []}}).traces.length === 4", timeout=T)
            page.wait_for_timeout(1500)
            bare = page.evaluate(STATE)
            page.screenshot(path=str(tmp_path / "no-ground-truth.png"), full_page=True)
            assert [t["name"] for t in bare["traces"][1:] if t["visible"] is True] == ["blurred"], bare
            assert bare["heatmaps"] == 1, bare
        finally:   # what the browser showed last, for a failure's post-mortem
            try: page.screenshot(path=str(tmp_path / "last.png"), full_page=True, timeout=10_000)
            except Exception: pass
            browser.close()
    assert not errors, f"browser console errors: {errors}\n(server log: {log})"
