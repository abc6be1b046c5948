"""The notebooks are the source: the package, the notebooks' cleanliness and README.md must all follow from them."""
import filecmp
import shutil
import subprocess
import sys
from pathlib import Path

from conftest import ROOT

BIN = Path(sys.executable).parent


def _tree(tmp_path):
    shutil.copytree(ROOT / "nbs", tmp_path / "nbs", ignore=shutil.ignore_patterns(".ipynb_checkpoints"))
    shutil.copy(ROOT / "settings.ini", tmp_path / "settings.ini")
    return tmp_path


def _py_files(d: Path):
    return sorted(p.relative_to(d) for p in d.rglob("*.py") if "__pycache__" not in p.parts)


def test_package_matches_notebooks(tmp_path):
    t = _tree(tmp_path)
    subprocess.run([BIN / "nbdev_export"], cwd=t, check=True, capture_output=True)
    ours, fresh = ROOT / "comicsal", t / "comicsal"
    assert _py_files(ours) == _py_files(fresh), (
        "comicsal/ holds other modules than nbdev_export writes from nbs/: run `make sync` and commit both")
    stale = [str(p) for p in _py_files(ours) if not filecmp.cmp(ours / p, fresh / p, shallow=False)]
    assert not stale, f"comicsal/{stale} differ from what nbdev_export writes from nbs/: run `make sync`, commit both"


def test_notebooks_are_clean(tmp_path):
    t = _tree(tmp_path)
    subprocess.run([BIN / "nbdev_clean"], cwd=t, check=True, capture_output=True)
    dirty = [str(p.relative_to(t)) for p in sorted((t / "nbs").rglob("*.ipynb"))
             if not filecmp.cmp(p, ROOT / p.relative_to(t), shallow=False)]
    assert not dirty, f"{dirty} are not clean: run `make sync` (nbdev_clean) and commit"


def test_readme_matches_index(tmp_path):
    subprocess.run([BIN / "jupyter", "nbconvert", "--to", "markdown", str(ROOT / "nbs/index.ipynb"),
                    "--output", "README", "--output-dir", str(tmp_path), "--log-level", "WARN"],
                   check=True, capture_output=True)
    assert (tmp_path / "README.md").read_text() == (ROOT / "README.md").read_text(), (
        "README.md differs from nbs/index.ipynb: run `make readme` and commit")


def test_ci_runs_the_readme_test_command():
    assert "make test" in (ROOT / ".ci/run").read_text()
    readme = (ROOT / "README.md").read_text()
    assert "make demo" in readme and "make test" in readme
