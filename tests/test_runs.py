"""comicsal.runs: papermill pipelines into run folders, reproducible, failures kept and named, names kept inside results/."""
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import pytest
import yaml
from commands import cli, no_traceback
from nbformat.v4 import new_code_cell, new_notebook

from comicsal.config import ComicsalError
from comicsal.runs import RunFailed, _new_run_folder, run_pipeline
from comicsal.zoo import latest_run

QUICK = {"backbone": "none", "long_side": 256, "epochs": 3}


def test_train_run_records_everything_and_repeats(sample, tmp_path):
    a = run_pipeline("train", {"data": str(sample), "seed": 0, **QUICK}, root=tmp_path, progress=False)
    b = run_pipeline("train", {"data": str(sample), "seed": 0, **QUICK}, root=tmp_path, progress=False)
    assert a != b and a.name.endswith("-train") or a.name.endswith("-train-2")
    for f in ("train.ipynb", "params.yaml", "metrics.json", "environment.json", "run.log", "model/model.pt"):
        assert (a / f).exists(), f
    params = yaml.safe_load((a / "params.yaml").read_text())
    assert params["epochs"] == 3 and params["model"] == "comicsal" and params["out_dir"] == str(a)
    env = json.loads((a / "environment.json").read_text())
    assert {"python", "packages", "git", "device"} <= set(env) and "dirty" in env["git"]
    ma, mb = (json.loads((x / "metrics.json").read_text()) for x in (a, b))
    assert {"protocol", "n", "means", "per_style"} <= set(ma)
    assert ma["means"] == mb["means"] and ma["protocols"]["mit"]["means"] == mb["protocols"]["mit"]["means"]
    assert latest_run("train", tmp_path) == max(a, b)


def test_failed_run_keeps_its_notebook_and_names_the_cell(sample, tmp_path):
    with pytest.raises(RunFailed, match=r"failed in cell \d+ \(ComicsalError") as e:
        run_pipeline("evaluate", {"model": "no-such-model", "data": str(sample)}, root=tmp_path, progress=False)
    folder = next(tmp_path.glob("*-evaluate"))
    assert (folder / "evaluate.ipynb").is_file() and (folder / "FAILED").is_file()
    assert str(folder / "evaluate.ipynb") in str(e.value)
    with pytest.raises(ComicsalError, match="no successful run of 'evaluate'"):
        latest_run("evaluate", tmp_path)


def test_unknown_pipeline_and_parameter(tmp_path):
    with pytest.raises(ComicsalError, match="no pipeline 'nope'.*compare.*evaluate.*predict.*train"):
        run_pipeline("nope", root=tmp_path)
    with pytest.raises(ComicsalError, match="has no parameter.*epoch_count"):
        run_pipeline("train", {"epoch_count": 3}, root=tmp_path)
    assert not list(tmp_path.glob("*"))               # nothing created for a refused run


def test_run_folders_are_never_reused(tmp_path):
    folders = [_new_run_folder("x", tmp_path) for _ in range(3)]
    assert len(set(folders)) == 3 and all(f.is_dir() for f in folders)


def test_every_pipeline_parameter_is_visible_to_papermill():
    "A comment papermill cannot parse hides a parameter (then `-p` is refused): every assignment must be found."
    import ast

    import nbformat
    import papermill as pm

    from comicsal.runs import pipelines_dir
    for nb_path in sorted(pipelines_dir().glob("*.ipynb")):
        nb = nbformat.read(nb_path, as_version=4)
        cell = next(c for c in nb.cells if "parameters" in c.metadata.get("tags", []))
        names = [t.id for node in ast.parse(cell.source).body if isinstance(node, ast.Assign) for t in node.targets]
        assert sorted(pm.inspect_notebook(str(nb_path))) == sorted(names), nb_path.name
        assert "out_dir" in names, nb_path.name


# -- interrupted runs, run names -----------------------------------------------------------------------------------

def test_interrupted_run_is_marked_and_skipped(sample, tmp_path, monkeypatch):
    import papermill

    from comicsal.runs import run_pipeline
    from comicsal.zoo import latest_run

    def interrupted(*a, **k): raise KeyboardInterrupt
    monkeypatch.setattr(papermill, "execute_notebook", interrupted)
    with pytest.raises(KeyboardInterrupt):
        run_pipeline("evaluate", {"model": "centre-bias", "data": str(sample)}, root=tmp_path, progress=False)
    folder = next(tmp_path.glob("*-evaluate"))
    assert "interrupted" in (folder / "FAILED").read_text() and not (folder / "RUNNING").exists()
    (tmp_path / "20990101T000000Z-evaluate").mkdir()                   # killed outright: RUNNING stays
    (tmp_path / "20990101T000000Z-evaluate" / "RUNNING").write_text("")
    with pytest.raises(ComicsalError, match="no successful run"):
        latest_run("evaluate", tmp_path)


@pytest.mark.parametrize("name", ["../x", "../02_data", "ESCAPE", "/tmp/x", "..", "a/b", "", "-p"])
def test_run_names_cannot_leave_the_runs_folder(tmp_path, monkeypatch, name):
    import os

    import nbformat

    from comicsal.runs import pipelines_dir
    monkeypatch.setenv("COMICSAL_RESULTS", str(tmp_path / "results"))
    if name == "ESCAPE":     # a notebook that exists, reached through ../ — its run folder would land outside results/runs
        nbformat.write(nbformat.v4.new_notebook(metadata={"kernelspec": {"name": "python3", "display_name": "python3", "language": "python"}}),
                       tmp_path / "evil.ipynb")
        name = os.path.relpath(tmp_path / "evil", pipelines_dir())
    rc, _, err = cli("run", name, "--no-progress")
    assert rc in (1, 2)
    no_traceback(err)
    assert not (tmp_path / "results").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) in ([], ["evil.ipynb"])


def test_every_pipeline_imports_only_names_that_exist():
    "A pipeline that imports a name the library renamed fails at once, not an hour into a run (the temporal_model pipeline did)."
    import ast

    import nbformat

    from comicsal.runs import pipelines_dir
    for nb_path in sorted(pipelines_dir().glob("*.ipynb")):
        nb = nbformat.read(nb_path, as_version=4)
        for cell in nb.cells:
            if cell.cell_type != "code" or cell.source.startswith("%"): continue
            for node in ast.parse(cell.source).body:
                if isinstance(node, (ast.Import, ast.ImportFrom)):
                    exec(compile(ast.Module([node], []), str(nb_path), "exec"), {})


def test_run_parameters_are_type_checked_before_the_run(tmp_path, monkeypatch):
    "`comicsal run adapt -p seed abc` once failed inside a notebook cell, after its run folder was made."
    from commands import cli, no_traceback
    monkeypatch.setenv("COMICSAL_RESULTS", str(tmp_path / "results"))
    status, _, err = cli("run", "adapt", "-p", "seed", "abc")
    assert status == 1 and "parameter seed takes a whole number" in err; no_traceback(err)
    assert not (tmp_path / "results").exists()                       # no run folder was made


def test_ctrl_c_on_a_run_prints_no_traceback(tmp_path):
    "Ctrl-C while a pipeline's cell runs: one line, exit 130, the run marked FAILED — no traceback from the kernel."
    (tmp_path / "settings.ini").write_text("[DEFAULT]\nlib_name = comicsal\n")       # a project of its own
    (tmp_path / "nbs" / "pipelines").mkdir(parents=True)
    nb = new_notebook(cells=[new_code_cell("seconds = 300\nout_dir = ''", metadata={"tags": ["parameters"]}),
                             new_code_cell("import pathlib, time\npathlib.Path(out_dir, 'started').touch()\ntime.sleep(seconds)")])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, tmp_path / "nbs" / "pipelines" / "sleep.ipynb")
    # as a terminal's foreground job: Ctrl-C not ignored, even when the tests themselves run as a background job of a
    # script (a non-interactive shell starts those with SIGINT ignored, children inherit it, and Python then never
    # raises KeyboardInterrupt — this test hung for that reason, not comicsal's)
    p = subprocess.Popen([Path(sys.executable).parent / "comicsal", "run", "sleep", "--no-progress"], cwd=tmp_path, text=True,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True,
                         preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
                         env={**os.environ, "COMICSAL_RESULTS": str(tmp_path / "results")})
    t = time.monotonic()
    while not list((tmp_path / "results" / "runs").glob("*/started")) and time.monotonic() - t < 180 and p.poll() is None:
        time.sleep(0.5)
    os.killpg(p.pid, signal.SIGINT)                   # what the terminal sends on Ctrl-C
    _, err = p.communicate(timeout=180)
    assert p.returncode == 130 and "interrupted" in err, err
    assert "Traceback" not in err and "zmq" not in err, err
    folder = next((tmp_path / "results" / "runs").iterdir())
    assert (folder / "FAILED").read_text().startswith("interrupted") and not (folder / "RUNNING").exists()
