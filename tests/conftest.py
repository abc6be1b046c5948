import shutil
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"          # the project's data, beside the clone (absent from a user's fresh clone)
ATT = SHARED / "data" / "attention"
OPENMANTRA = SHARED / "data" / "comics" / "openmantra"
needs_attention = pytest.mark.skipif(not (ATT / "mit1003").is_dir(),
                                     reason=f"{ATT} is absent (a fresh clone without the project's shared data)")
needs_openmantra = pytest.mark.skipif(not (OPENMANTRA / "annotation.json").is_file(),
                                      reason=f"{OPENMANTRA} is absent (a fresh clone without the project's shared data)")


@pytest.fixture(scope="session")
def sample(tmp_path_factory):
    "A small embedded sample (6 train, 4 val, 2 test pages), made once per test session."
    from comicsal.synth import synth_dataset
    return synth_dataset(tmp_path_factory.mktemp("sample") / "s", 6, 4, 2, seed=11, progress=False)


@pytest.fixture
def sample_copy(sample, tmp_path):
    "A private copy of the sample that a test may damage."
    return Path(shutil.copytree(sample, tmp_path / "s"))


@pytest.fixture(autouse=True, scope="session")
def _warning_log(tmp_path_factory):
    "In-process commands log other libraries' warnings here, not into the project's results/."
    import os
    os.environ.setdefault("COMICSAL_LOG", str(tmp_path_factory.mktemp("log") / "comicsal.log"))
