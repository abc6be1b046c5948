"""comicsal.book: built offline by jupyter-book from the chapters and recorded runs; plotly renders in a real browser."""
import contextlib
import functools
import http.server
import json
import shutil
import threading
from pathlib import Path

import pytest
from browser import chromium, render
from conftest import ROOT

from comicsal.book import build_book, check_site, site_sizes
from comicsal.runs import run_pipeline

try:
    from playwright.sync_api import sync_playwright
except ImportError:   # a dev requirement; missing only in a venv made before it was added
    sync_playwright = None

BEFORE = {}     # time stamps of project files before the book is built (it must not rewrite them)


@pytest.fixture(scope="module")
def book(sample, tmp_path_factory):
    root = tmp_path_factory.mktemp("book")
    BEFORE.update(pyproject=(ROOT / "pyproject.toml").stat().st_mtime_ns, init=(ROOT / "comicsal" / "__init__.py").stat().st_mtime_ns)
    runs = root / "runs"
    run_pipeline("train", {"data": str(sample), "backbone": "none", "long_side": 256, "epochs": 3}, root=runs, progress=False)
    compare = run_pipeline("compare", {"data": str(sample), "models": ["latest:train/model/model.pt", "centre-bias"]},
                           root=runs, progress=False)
    index = build_book(root / "book", runs=runs, execute=True)
    return index, compare


def test_book_links_chapters_and_runs(book):
    index, compare = book
    html = index.read_text()
    for chapter in ("00_config", "06_metrics", "18_train", "24_cli", "17_zoo"):
        assert f"chapters/{chapter}.html" in html, chapter
    assert f"runs/{compare.name}.html" in html
    assert 'href="nbs/' not in html                                       # README links rewritten to the chapters
    page = index.parent / "runs" / compare.name / "compare.html"
    text = page.read_text()
    assert "Traceback" not in text and "ComicsalError" not in text      # shown as it ran, not re-executed
    assert "src=\"https://cdn.plot" not in text and "plotly.js v" not in text   # plotly.js offline, shared by the pages:
    assert '<script src="../../_static/plotly.min.js"></script>' in text          # one copy in the site
    metrics = json.loads((compare / "metrics.json").read_text())
    assert {"protocol", "n", "means", "per_style", "models"} <= set(metrics)
    chapter = (index.parent / "chapters" / "06_metrics.html").read_text()
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
    # the temporal chapter's animated figure: drawn offline, with its play button and a slider over static + 3 slices
    chapter = index.parent / "chapters" / "16_temporal.html"
    dom, errors = render(chapter, tmp_path / "time.png")
    assert not errors, f"{chapter}: JavaScript errors: {errors}"
    assert dom.count('class="main-svg"') >= 2 and "▶ play" in dom and "slice 3/3" in dom
    assert "src=\"https://cdn.plot" not in chapter.read_text()


BOOK_TEXT = (".html", ".js", ".ipynb", ".txt", ".json")


@pytest.mark.skipif(chromium() is None or sync_playwright is None,
                    reason="Chromium or playwright is not installed (.ci/run installs Debian's chromium)")
def test_book_is_a_relocatable_site(book, tmp_path):
    """Move the built site elsewhere; every page renders in Chromium over file:// and over HTTP, with no console
    error and no request to the network; every local link and asset resolves; no absolute build path is left."""
    index, compare = book
    html, moved = index.parent, tmp_path / "published" / "comicsal-book"
    moved.parent.mkdir()
    shutil.move(html, moved)
    try:
        assert check_site(moved) == []
        built = [str(index.parent.parent.parent), str(ROOT), str(compare.parent)]    # the book folder, the project, the runs
        for f in sorted(moved.rglob("*")):
            if f.suffix in BOOK_TEXT and f.is_file():
                text = f.read_text(errors="replace")
                assert not [b for b in built if b in text], f"{f.relative_to(moved)} shows an absolute build path"
        pages = [p for p in sorted(moved.rglob("*.html")) if "_static" not in p.relative_to(moved).parts
                 and p.name not in ("genindex.html", "search.html")]
        assert len(pages) >= 15
        with sync_playwright() as pw, _serve(moved) as base:
            browser = pw.chromium.launch(executable_path=chromium(), args=["--no-sandbox", "--disable-gpu"], headless=True)
            try:
                for url in [p.as_uri() for p in pages] + [f"{base}/{p.relative_to(moved).as_posix()}" for p in pages[:6]]:
                    problems = _visit(browser, url)
                    assert not problems, f"{url}: {problems}"
            finally:
                browser.close()
    finally:
        shutil.move(moved, html)


def test_run_pages_show_scores_figures_and_the_rerun_command(book):
    index, compare = book
    import html as H
    import re
    page = (index.parent / "runs" / f"{compare.name}.html").read_text()
    text = H.unescape(re.sub(r"<[^>]+>", "", page))
    assert "<table" in page and "<strong>" in page                      # the score table, best in bold
    assert "plotly-graph-div" in page                                  # the run's figures above its notebook
    assert "How to reproduce it" in text and "comicsal run compare -p data" in text
    assert "latest:" not in text and "model/model.pt" in text          # the model as the run resolved it
    assert "commit " in text and "seed 0" in text and "packages: comicsal" in text
    assert re.search(r'href="[^"]*_downloads/[^"]*/compare\.ipynb"', page)    # the executed notebook, downloadable


def test_book_build_leaves_the_package_and_pyproject_alone(book):
    "The book executes the chapters; their nbdev_export() cells are left out, so nothing in the project is rewritten."
    index, _ = book
    assert (ROOT / "pyproject.toml").stat().st_mtime_ns == BEFORE["pyproject"]
    assert (ROOT / "comicsal" / "__init__.py").stat().st_mtime_ns == BEFORE["init"]
    assert "nbdev_export()" not in (index.parents[2] / "src" / "chapters" / "02_data.ipynb").read_text()


@contextlib.contextmanager
def _serve(folder: Path):
    "A static HTTP server on 127.0.0.1 serving `folder`: yields its base URL."
    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *a): pass
    handler = functools.partial(Quiet, directory=str(folder))
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    t = threading.Thread(target=srv.serve_forever, daemon=True); t.start()
    try: yield f"http://127.0.0.1:{srv.server_address[1]}"
    finally: srv.shutdown(); srv.server_close()


def _visit(browser, url: str) -> list[str]:
    "Open `url`; the problems seen: console errors, page errors, failed or network requests, an empty page."
    problems = []
    page = browser.new_page()
    def route(r):
        u = r.request.url
        if u.startswith(("file:", "data:", "blob:", "about:")) or u.startswith("http://127.0.0.1"): r.continue_()
        else: problems.append(f"network request {u}"); r.abort()
    page.route("**/*", route)
    page.on("console", lambda m: m.type in ("error", "warning") and problems.append(f"console {m.type}: {m.text}"))
    page.on("pageerror", lambda e: problems.append(f"pageerror: {e}"))
    page.on("requestfailed", lambda r: problems.append(f"failed: {r.url}"))
    try:
        page.goto(url, wait_until="load", timeout=60_000)
        page.wait_for_timeout(300)
        shown = page.evaluate("(() => { const m = document.querySelector('main') || document.body;"
                              " return m.innerText.length + 1000 * document.querySelectorAll('.main-svg').length; })()")
        if shown < 50: problems.append("nothing shown")       # a page's text, or a drawn plotly figure (explorer.html)
    finally:
        page.close()
    return problems


def test_site_is_of_a_sane_size_and_every_visual_chapter_shows_its_figure(book):
    "plotly.js once per site, large images as files: the site and its pages stay small; figures sit where the text explains them."
    index, compare = book
    html = index.parent
    sizes = site_sizes(html)
    big = {p: n for p, n in sizes["pages"].items() if n > 3_000_000}
    assert not big, f"pages over 3 MB: {big}"
    assert sizes["total"] < 60_000_000, f"the site is {sizes['total'] / 1e6:.0f} MB"
    bundles = [f for f in html.rglob("*") if f.is_file() and f.suffix in (".html", ".js") and "plotly.js v" in f.read_text(errors="replace")[:2000]]
    assert [f.relative_to(html).as_posix() for f in bundles] == ["_static/plotly.min.js"]
    for page in html.rglob("*.html"):
        text = page.read_text(errors="replace")
        assert "Plotly.animate(" not in text, f"{page}: a figure plays on load"
        assert '<script type="application/vnd.jupyter.widget-state+json">' not in text, f"{page}: a widget state blob with no view"
    explorer = (html / "chapters" / "21_explore.html").read_text()
    assert "plotly-graph-div" in explorer                                   # the explorer chapter shows the explorer
    time = (html / "chapters" / "16_temporal.html").read_text()
    seeing, measured = time.index('id="seeing-it-an-animated-figure"'), time.index('id="the-shipped-readout-measured"')
    assert seeing < time.index("plotly-graph-div") < measured              # the figure in the section that explains it
    run_page = (html / "runs" / f"{compare.name}.html").read_text()
    assert "The executed notebook follows." not in run_page and f'href="{compare.name}/compare.html"' in run_page


@pytest.mark.skipif(chromium() is None or sync_playwright is None,
                    reason="Chromium or playwright is not installed (.ci/run installs Debian's chromium)")
def test_figures_open_on_their_first_frame_with_every_control_inside(book):
    """At 1280 and 800 px: every plotly figure's buttons, dropdowns and slider lie inside it, its slider shows the
    first step, and nothing moved on its own after load."""
    index, compare = book
    html = index.parent
    pages = [html / "chapters" / "21_explore.html", html / "chapters" / "16_temporal.html", html / "runs" / compare.name / "compare.html"]
    probe = """() => Array.from(document.querySelectorAll('.js-plotly-plot')).map(g => {
        const box = g.getBoundingClientRect();
        const outside = Array.from(g.querySelectorAll('.updatemenu-button, .updatemenu-header, .slider-group, .gtitle'))
            .map(e => [e.getAttribute('class'), e.getBoundingClientRect()])
            .filter(([c, r]) => r.width > 0 && (r.left < box.left - 1 || r.right > box.right + 1 || r.top < box.top - 1 || r.bottom > box.bottom + 1))
            .map(([c, r]) => c + (r.right > box.right ? ' past the right edge' : ' clipped'));
        const sliders = (g.layout && g.layout.sliders) || [];
        return {outside, active: sliders.map(s => s.active || 0)};
    })"""
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium(), args=["--no-sandbox", "--disable-gpu"], headless=True)
        try:
            for width in (1280, 800):
                for p in pages:
                    page = browser.new_page(viewport={"width": width, "height": 900})
                    page.goto(p.as_uri(), wait_until="load"); page.wait_for_timeout(1500)
                    figs = page.evaluate(probe)
                    assert figs, f"{p.name}: no figure drawn"
                    for k, f in enumerate(figs):
                        assert not f["outside"], f"{p.name} at {width} px, figure {k}: {f['outside']}"
                        assert all(a == 0 for a in f["active"]), f"{p.name} at {width} px, figure {k}: slider at {f['active']}"
                    page.close()
        finally:
            browser.close()


def test_book_out_refuses_a_folder_it_did_not_make(tmp_path):
    "`comicsal book --out ~/Documents` once deleted ~/Documents/src, even when the build then failed."
    from commands import cli, no_traceback, snapshot
    mine = tmp_path / "docs"; (mine / "src").mkdir(parents=True); (mine / "src" / "thesis.tex").write_text("years of work")
    before = snapshot(mine)
    status, _, err = cli("book", "--out", str(mine))
    assert status == 1 and "not a book folder comicsal made" in err and str(mine) in err
    no_traceback(err); assert snapshot(mine) == before
