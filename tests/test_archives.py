"""comicsal.archives: fetching and normalising challenge archives, hostile archives refused whole, comic books as pages."""
import io
import shutil
import stat
import tarfile
import tempfile
import zipfile
from pathlib import Path

import numpy as np
import pytest
from commands import run_process as _run
from PIL import Image

from comicsal.archives import fetch_ai4va, fetch_mit1003, normalise_layout
from comicsal.config import ComicsalError
from comicsal.data import load_image

# -- fetch and normalise -------------------------------------------------------------------------------------------

def _archive_tree(src: Path):
    "A plausible challenge archive: nested folder, per-split image/map folders with their own names."
    for split, sdir in (("train", "Train"), ("val", "Validation")):
        for i in range(2):
            d = src / "AI4VA_saliency" / sdir
            (d / "Images").mkdir(parents=True, exist_ok=True); (d / "GT_saliency").mkdir(parents=True, exist_ok=True)
            Image.new("RGB", (8, 12), (i, 0, 0)).save(d / "Images" / f"yves_{split}_{i}.jpg")
            Image.new("L", (10, 10), i).save(d / "GT_saliency" / f"yves_{split}_{i}.png")
    (src / "AI4VA_saliency/test/images").mkdir(parents=True)
    Image.new("RGB", (8, 12)).save(src / "AI4VA_saliency/test/images/placid_t.png")
    (src / "__MACOSX").mkdir(); (src / "__MACOSX/._junk.png").write_bytes(b"junk")


@pytest.mark.parametrize("kind", ["zip", "gztar"])
def test_fetch_unpacks_and_normalises_a_local_archive(tmp_path, kind):
    _archive_tree(tmp_path / "src")
    archive = shutil.make_archive(str(tmp_path / "ai4va"), kind, tmp_path / "src")
    rep = fetch_ai4va(tmp_path / "data", archive=archive)
    assert rep.ok, rep.summary()
    assert rep.counts() == {"train": {"realistic": 2}, "val": {"realistic": 2}, "test": {"toon": 1}}
    assert (tmp_path / "data/maps/val/yves_val_1.png").is_file()
    assert "drive.google.com" in (tmp_path / "data/SOURCE.txt").read_text()
    with pytest.raises(ComicsalError, match="`force=True`"):
        fetch_ai4va(tmp_path / "data", archive=archive)
    assert fetch_ai4va(tmp_path / "data", archive=archive, force=True).ok


def test_normalise_refuses_to_guess(tmp_path):
    (tmp_path / "src/stuff").mkdir(parents=True)
    Image.new("L", (4, 4)).save(tmp_path / "src/stuff/0001.png")
    with pytest.raises(ComicsalError, match=r"(?s)cannot tell .* stuff/0001.png"):
        normalise_layout(tmp_path / "src", tmp_path / "dst")


def test_fetch_errors_are_clear(tmp_path, monkeypatch):
    (tmp_path / "broken.zip").write_bytes(b"PK not really")
    with pytest.raises(ComicsalError, match="cannot unpack"):
        fetch_ai4va(tmp_path / "d1", archive=tmp_path / "broken.zip")
    import socket
    def refuse(*a, **k): raise OSError("network is unreachable")
    monkeypatch.setattr(socket, "create_connection", refuse)
    with pytest.raises(ComicsalError, match="Manual steps") as e:
        fetch_ai4va(tmp_path / "d2")
    assert "--archive" in str(e.value) and "1cNivYQCyEz6AncLTJnAfrgkGRyMsVmm_" in str(e.value)


# -- hostile archives: nothing outside the destination, and they are refused whole ---------------------------------

def _png(size=(8, 6), value=0, mode="L") -> bytes:
    b = io.BytesIO(); Image.new(mode, size, value).save(b, format="PNG"); return b.getvalue()


@pytest.fixture
def sandbox(tmp_path, monkeypatch):
    "tmp_path, with Python's temporary folders inside it: an escape from the unpack folder lands where we can see it."
    (tmp_path / "tmp").mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "tmp"))
    (tmp_path / "outside").mkdir()
    (tmp_path / "outside/secret.png").write_bytes(_png(value=99))
    return tmp_path


def _evil_anywhere(root: Path) -> list[Path]:
    "Files an archive planted: anything named evil*, or a copy of the secret, anywhere under `root`."
    return [p for p in root.rglob("*") if p.name.startswith("evil") and not p.name.startswith("evil_archive")]


def _tar_add(tf, name, data=None, kind=tarfile.REGTYPE, linkname=""):
    ti = tarfile.TarInfo(name); ti.type = kind; ti.linkname = linkname; ti.mode = 0o644
    if data is not None: ti.size = len(data)
    tf.addfile(ti, io.BytesIO(data) if data is not None else None)


def _evil_tar(root: Path) -> tuple[Path, list[str]]:
    abs_target = root / "abs_target" / "evil_abs.png"
    bad = ["../../evil_up.png", str(abs_target), "escape", "etc", "up", "images/train/leak.png", "hard.png", "fifo"]
    path = root / "evil_archive.tar.gz"
    with tarfile.open(path, "w:gz") as tf:
        _tar_add(tf, "images/train/a.png", _png(value=1))
        _tar_add(tf, "maps/train/a.png", _png(value=2))
        _tar_add(tf, "../../evil_up.png", _png())
        _tar_add(tf, str(abs_target), _png())                                           # absolute path
        _tar_add(tf, "escape", kind=tarfile.SYMTYPE, linkname=str(root / "outside"))    # then write through it
        _tar_add(tf, "escape/evil_through_link.png", _png())
        _tar_add(tf, "etc", kind=tarfile.SYMTYPE, linkname="/etc")
        _tar_add(tf, "up", kind=tarfile.SYMTYPE, linkname="../..")
        _tar_add(tf, "images/train/leak.png", kind=tarfile.SYMTYPE, linkname=str(root / "outside/secret.png"))
        _tar_add(tf, "hard.png", kind=tarfile.LNKTYPE, linkname="../../outside/secret.png")
        _tar_add(tf, "fifo", kind=tarfile.FIFOTYPE)
    return path, bad


@pytest.mark.parametrize("data_filter", [True, False], ids=["tarfile-data-filter", "explicit-check"])
def test_hostile_tar_is_refused_whole_and_nothing_escapes(sandbox, monkeypatch, data_filter):
    if not data_filter: monkeypatch.delattr(tarfile, "data_filter", raising=False)   # a Python without the backport
    elif not hasattr(tarfile, "data_filter"): pytest.skip("this Python has no tarfile.data_filter")
    archive, bad = _evil_tar(sandbox)
    dest = sandbox / "data" / "ai4va"
    with pytest.raises(ComicsalError) as e:
        fetch_ai4va(dest, archive=archive, progress=False)
    msg = str(e.value)
    for name in bad: assert name in msg, (name, msg)
    assert not _evil_anywhere(sandbox), _evil_anywhere(sandbox)
    assert not (sandbox / "abs_target").exists()
    assert sorted(p.name for p in (sandbox / "outside").iterdir()) == ["secret.png"]
    assert not dest.exists() or not any(dest.iterdir()), list(dest.rglob("*"))
    assert not any((sandbox / "tmp").iterdir())          # the unpack folder is gone too


def test_hostile_zip_is_refused_whole(sandbox):
    path = sandbox / "evil_archive.zip"
    bad = ["../../evil_up.png", "/abs/evil_abs.png", "C:/evil_drive.png", "..\\..\\evil_win.png",
           "images/train/leak.png", "up", "fifo"]
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("images/train/a.png", _png(value=1)); z.writestr("maps/train/a.png", _png(value=2))
        for name in bad[:4]: z.writestr(zipfile.ZipInfo(name), _png())
        for name, target in (("images/train/leak.png", str(sandbox / "outside/secret.png")), ("up", "../..")):
            zi = zipfile.ZipInfo(name); zi.create_system = 3; zi.external_attr = (stat.S_IFLNK | 0o777) << 16
            z.writestr(zi, target)
        zi = zipfile.ZipInfo("fifo"); zi.create_system = 3; zi.external_attr = (stat.S_IFIFO | 0o644) << 16
        z.writestr(zi, b"")
    dest = sandbox / "d"
    with pytest.raises(ComicsalError) as e:
        fetch_ai4va(dest, archive=path, progress=False)
    for name in bad: assert name in str(e.value), (name, str(e.value))
    assert not _evil_anywhere(sandbox) and not dest.exists()
    # MIT1003 unpacks through the same door
    with pytest.raises(ComicsalError, match=r"\.\./\.\./evil_up\.png"):
        fetch_mit1003(sandbox / "mit", archives=[path], progress=False)
    assert not (sandbox / "mit").exists()


@pytest.mark.parametrize("kind", ["tar", "zip"])
def test_links_inside_an_archive_are_never_followed(sandbox, kind):
    "A link that stays inside the archive is harmless but is not a page: it is neither followed nor copied."
    files = {"images/train/a.png": _png(value=1), "maps/train/a.png": _png(value=2)}
    if kind == "tar":
        archive = sandbox / "a.tar"
        with tarfile.open(archive, "w") as tf:
            for name, data in files.items(): _tar_add(tf, name, data)
            _tar_add(tf, "images/train/alias.png", kind=tarfile.SYMTYPE, linkname="a.png")
            _tar_add(tf, "images/train/twin.png", kind=tarfile.LNKTYPE, linkname="images/train/a.png")
            _tar_add(tf, "maps/train/twin.png", _png(value=3))
    else:
        archive = sandbox / "a.zip"
        with zipfile.ZipFile(archive, "w") as z:
            for name, data in files.items(): z.writestr(name, data)
            zi = zipfile.ZipInfo("images/train/alias.png"); zi.create_system = 3
            zi.external_attr = (stat.S_IFLNK | 0o777) << 16; z.writestr(zi, "a.png")
    rep = fetch_ai4va(sandbox / "d", archive=archive, progress=False)
    assert rep.ok, rep.summary()
    got = sorted(str(p.relative_to(sandbox / "d")) for p in (sandbox / "d").rglob("*.png"))
    want = ["images/train/a.png", "maps/train/a.png"] + (["images/train/twin.png", "maps/train/twin.png"] if kind == "tar" else [])
    assert got == sorted(want)
    assert not any(p.is_symlink() for p in (sandbox / "d").rglob("*"))
    if kind == "tar":   # a hard link inside the archive is a copy of its target
        assert load_image(sandbox / "d/images/train/twin.png")[0, 0, 0] == pytest.approx(1 / 255)


# -- --no-progress downloads ---------------------------------------------------------------------------------------

class _Sock:
    def close(self): pass


def test_no_progress_silences_the_downloads(tmp_path, monkeypatch, capsys):
    import socket
    import urllib.request

    import gdown
    monkeypatch.setattr(socket, "create_connection", lambda *a, **k: _Sock())
    zbytes = io.BytesIO()
    with zipfile.ZipFile(zbytes, "w") as z:
        z.writestr("AI4VA/train/images/placid_1.png", _png()); z.writestr("AI4VA/train/maps/placid_1.png", _png())
    seen = {}
    def fake_gdown(id=None, output=None, quiet=False, **k):
        seen["quiet"] = quiet
        Path(output).write_bytes(zbytes.getvalue()); return output
    monkeypatch.setattr(gdown, "download", fake_gdown)
    assert fetch_ai4va(tmp_path / "ai4va", progress=False).ok
    assert seen["quiet"] is True
    capsys.readouterr()

    def zip_of(files):
        b = io.BytesIO()
        with zipfile.ZipFile(b, "w") as z:
            for n, d in files.items(): z.writestr(n, d)
        return b.getvalue()
    bodies = {"ALLSTIMULI.zip": zip_of({"ALLSTIMULI/i1.jpeg": _png(mode="RGB")}),
              "ALLFIXATIONMAPS.zip": zip_of({"ALLFIXATIONMAPS/i1_fixMap.jpg": _png(),
                                             "ALLFIXATIONMAPS/i1_fixPts.jpg": _png()})}
    class Resp(io.BytesIO):
        headers = {}
        def __enter__(self): return self
        def __exit__(self, *a): self.close()
    monkeypatch.setattr(urllib.request, "urlopen", lambda url, timeout=None: Resp(bodies[url.rsplit("/", 1)[1]]))
    assert fetch_mit1003(tmp_path / "mit", progress=False).ok
    out = capsys.readouterr()
    assert out.err == "" and out.out == "", out
    fetch_mit1003(tmp_path / "mit2", progress=True)
    assert "ALLSTIMULI.zip" in capsys.readouterr().err       # the bar is there when asked for


# -- comic books (.cbz, .pdf) as pages -----------------------------------------------------------------------------

def _book(d: Path) -> list[Image.Image]:
    ims = [Image.fromarray((np.random.default_rng(i).random((120, 90, 3)) * 255).astype(np.uint8)) for i in range(3)]
    with zipfile.ZipFile(d / "book.cbz", "w") as z:
        for i, im in enumerate(ims):
            b = io.BytesIO(); im.save(b, "PNG"); z.writestr(f"pages/p{i + 1}.png", b.getvalue())
    ims[0].save(d / "book.pdf", save_all=True, append_images=ims[1:], resolution=100)
    return ims


def test_predict_archives(tmp_path):
    _book(tmp_path)
    r = _run(["predict", "--model", "centre-bias", "--images", "book.cbz", "--out", "cbz", "--zip"], tmp_path)
    assert r.returncode == 0, r.stderr
    got = sorted(p.relative_to(tmp_path / "cbz").as_posix() for p in (tmp_path / "cbz").rglob("*.png"))
    assert got == ["book/pages_p1.png", "book/pages_p2.png", "book/pages_p3.png"]
    assert Image.open(tmp_path / "cbz/book/pages_p1.png").size == (90, 120)
    with zipfile.ZipFile(tmp_path / "cbz.zip") as z: assert sorted(z.namelist()) == got
    r = _run(["predict", "--model", "centre-bias", "--images", "book.pdf", "--dpi", "200", "--out", "pdf"], tmp_path, ranks=2)
    assert r.returncode == 0, r.stderr
    got = sorted(p.relative_to(tmp_path / "pdf").as_posix() for p in (tmp_path / "pdf").rglob("*.png"))
    assert got == ["book/page-0001.png", "book/page-0002.png", "book/page-0003.png"]
    assert Image.open(tmp_path / "pdf/book/page-0002.png").size == (180, 240)     # 100 dpi pages rendered at 200 dpi
    bad = _run(["predict", "--model", "centre-bias", "--images", "book.pdf", "--dpi", "5", "--out", "x"], tmp_path)
    assert bad.returncode == 2 and "argument --dpi" in bad.stderr and "≥ 10 and ≤ 1200" in bad.stderr   # refused by the parser


@pytest.mark.parametrize("name", ["...cbz", "..pdf"])
def test_an_archive_named_dots_writes_inside_out(tmp_path, name):
    "An archive whose stem is `..` or `.` once wrote its maps into the parent of --out (and `../p2.png` into the zip)."
    _book(tmp_path)
    (tmp_path / "w").mkdir(); (tmp_path / name).write_bytes((tmp_path / ("book" + Path(name).suffix)).read_bytes())
    before = sorted(p.name for p in tmp_path.iterdir())
    r = _run(["predict", "--model", "centre-bias", "--images", f"../{name}", "--out", "out", "--zip"], tmp_path / "w")
    assert r.returncode == 0, r.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == before               # nothing new beside the work folder
    got = sorted(p.relative_to(tmp_path / "w" / "out").as_posix() for p in (tmp_path / "w" / "out").rglob("*.png"))
    assert len(got) == 3 and all(g.startswith("archive/") for g in got), got
    with zipfile.ZipFile(tmp_path / "w" / "out.zip") as z: assert sorted(z.namelist()) == got
