"""The book: built offline by jupyter-book from the chapters and recorded runs; plotly renders in a real browser."""
import json
from pathlib import Path

import pytest

from browser import chromium, render
from comicsal.runs import build_book, run_pipeline


@pytest.fixture(scope="module")
def book(sample, tmp_path_factory):
    root = tmp_path_factory.mktemp("book")
    runs = root / "runs"
    run_pipeline("train", {"data": str(sample), "backbone": "none", "long_side": 256, "epochs": 3}, root=runs, progress=False)
    compare = run_pipeline("compare", {"data": str(sample), "models": ["latest:train/model/model.pt", "centre-bias"]},
                           root=runs, progress=False)
    index = build_book(root / "book", runs=runs, execute=True)
    return index, compare


def test_book_links_chapters_and_runs(book):
    index, compare = book
    html = index.read_text()
    for chapter in ("00_config", "03_metrics", "05_train", "09_cli"):
        assert f"chapters/{chapter}.html" in html, chapter
    assert f"runs/{compare.name}.html" in html
    assert 'href="nbs/' not in html                                       # README links rewritten to the chapters
    page = index.parent / "runs" / compare.name / "compare.html"
    text = page.read_text()
    assert "Traceback" not in text and "ComicsalError" not in text      # shown as it ran, not re-executed
    assert "src=\"https://cdn.plot" not in text and "plotly.js v" in text   # plotly.js embedded, offline
    metrics = json.loads((compare / "metrics.json").read_text())
    assert {"protocol", "n", "means", "per_style", "models"} <= set(metrics)
    chapter = (index.parent / "chapters" / "03_metrics.html").read_text()
    assert "protocol: ai4va" in chapter                                   # chapters executed at build time


@pytest.mark.skipif(chromium() is None, reason="Chromium is not installed (.ci/run installs Debian's chromium)")
def test_plotly_renders_in_chromium(book, tmp_path):
    index, compare = book
    for page in (index.parent / "runs" / compare.name / "compare.html", compare / "explorer.html"):
        dom, errors = render(page, tmp_path / f"{page.stem}.png")
        assert not errors, f"{page}: JavaScript errors: {errors}"
        assert dom.count('class="main-svg"') >= 2, f"{page}: no rendered plotly figure"
        assert (tmp_path / f"{page.stem}.png").stat().st_size > 10_000
    dom, _ = render(compare / "explorer.html", tmp_path / "e.png")
    assert "slider" in dom and dom.count('class="slider-group"') + dom.count("slider-rail") >= 1
    # chapter 12's animated figure: drawn offline, with its play button and a slider over static + 3 slices
    chapter = index.parent / "chapters" / "12_time.html"
    dom, errors = render(chapter, tmp_path / "time.png")
    assert not errors, f"{chapter}: JavaScript errors: {errors}"
    assert dom.count('class="main-svg"') >= 2 and "▶ play" in dom and "slice 3/3" in dom
    assert "src=\"https://cdn.plot" not in chapter.read_text()
