"""How the house is built: one direction through the layers (nbs/index.ipynb), checked on the package's own source."""
import ast
import shutil
import subprocess
import sys
from pathlib import Path

from conftest import ROOT

PKG = ROOT / "comicsal"
BIN = Path(sys.executable).parent
# function-local imports allowed in the library (never of comicsal modules): optional or heavy dependencies only
DEFERRED = {"pypdfium2", "gdown", "efficientnet_lite_pytorch", "torchvision", "deepgaze_pytorch", "plotly", "ipywidgets",
            "IPython", "papermill", "jupyter_book", "torch"}


def _modules():
    return {f.stem: ast.parse(f.read_text()) for f in sorted(PKG.glob("*.py")) if f.stem != "_modidx"}


def _targets(node):
    "Package modules an import statement names."
    if isinstance(node, ast.ImportFrom):
        if node.level == 1: return [node.module] if node.module else [a.name for a in node.names]
        if (node.module or "").startswith("comicsal."): return [node.module.split(".")[1]]
        if node.module == "comicsal": return [a.name for a in node.names]
    if isinstance(node, ast.Import):
        return [a.name.split(".")[1] for a in node.names if a.name.startswith("comicsal.")]
    return []


def _graph():
    mods = _modules()
    return {m: {t for n in ast.walk(tree) for t in _targets(n) if t in mods and t != m} for m, tree in mods.items()}


def _cycle(graph):
    "A list of modules forming an import circle, or None."
    state, stack = {}, []
    def visit(m):
        state[m] = 1; stack.append(m)
        for d in sorted(graph[m]):
            if state.get(d) == 1: return stack[stack.index(d):] + [d]
            if d not in state and (c := visit(d)): return c
        state[m] = 2; stack.pop()
        return None
    for m in sorted(graph):
        if m not in state and (c := visit(m)): return c
    return None


def test_the_cycle_finder_finds_circles():
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert _cycle({"a": {"b"}, "b": set()}) is None


def test_no_import_circle_between_package_modules():
    g = _graph()
    assert len(g) > 15
    assert _cycle(g) is None, f"import circle: {' → '.join(_cycle(g))}"


def test_library_imports_at_the_top():
    "Inside the library (the CLI aside) a function imports only optional or heavy dependencies, each saying why."
    bad = []
    for m, tree in _modules().items():
        if m in ("cli", "__main__"): continue
        lines = (PKG / f"{m}.py").read_text().splitlines()
        for fn in (n for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))):
            for n in ast.walk(fn):
                if not isinstance(n, (ast.Import, ast.ImportFrom)): continue
                root = (n.module or "").split(".")[0] if isinstance(n, ast.ImportFrom) else n.names[0].name.split(".")[0]
                if getattr(n, "level", 0) or root == "comicsal" or root not in DEFERRED or "#" not in lines[n.lineno - 1]:
                    bad.append(f"comicsal/{m}.py:{n.lineno}: {lines[n.lineno - 1].strip()}")
    assert not bad, "function-local imports (move them to the top, or say why they are deferred):\n" + "\n".join(bad)


def test_the_model_contract_imports_no_model_family():
    code = ("import sys, comicsal.models; "
            "print(' '.join(sorted(m for m in sys.modules if m.startswith('comicsal'))))")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True)
    assert set(r.stdout.split()) == {"comicsal", "comicsal.config", "comicsal.options", "comicsal.data", "comicsal.models"}, r.stdout


def test_import_contracts_hold_and_catch_an_upward_import(tmp_path):
    ok = subprocess.run([BIN / "lint-imports"], capture_output=True, text=True, cwd=ROOT)
    assert ok.returncode == 0, ok.stdout[-3000:]
    # the same contracts on a copy where the model contract imports the temporal readout: broken
    shutil.copytree(PKG, tmp_path / "comicsal", ignore=shutil.ignore_patterns("weights", "__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    models = tmp_path / "comicsal" / "models.py"
    models.write_text(models.read_text() + "\nfrom .temporal import TemporalModel  # an upward arrow\n")
    bad = subprocess.run([BIN / "lint-imports", "--no-cache"], capture_output=True, text=True, cwd=tmp_path,
                         env={"PYTHONPATH": str(tmp_path), "PATH": str(BIN)})
    assert bad.returncode != 0 and "BROKEN" in bad.stdout, bad.stdout[-3000:] + bad.stderr[-2000:]
