"""Issue 10, data side: hostile archives, `synth --force` into a user's dataset, very large pages, scan formats and
odd links, `--no-progress` downloads, and `data check` on paths that are not datasets."""
import io
import os
import stat
import tarfile
import tempfile
import warnings
import zipfile
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path
from types import SimpleNamespace

import pytest
from PIL import Image

from comicsal.archives import fetch_ai4va, fetch_mit1003
from comicsal.config import ComicsalError
from comicsal.data import UnreadableImage, check_dataset, discover, load_image, load_map, open_image


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


# -- 1. archives: nothing outside the destination, and hostile archives are refused whole ------------------------

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


# -- 2. synth --force into an existing dataset -----------------------------------------------------------------

def test_synth_force_replaces_only_its_own_files(tmp_path):
    from comicsal.synth import SynthParams, synth_dataset
    root = tmp_path / "mine"
    for sub in ("images/train", "maps/train"):
        (root / sub).mkdir(parents=True); Image.new("L", (8, 8), 7).save(root / sub / "my_page.png")
    (root / "styles.csv").write_text("stem,style\nmy_page,realistic\n")
    with pytest.raises(ComicsalError, match="`force=True`"):
        synth_dataset(root, 2, 1, 0, progress=False, params=SynthParams(width=(100, 120), map_size=32))
    small = SynthParams(width=(100, 120), map_size=32)                   # the same stems, drawn fast
    synth_dataset(root, 2, 1, 0, progress=False, force=True, params=small)
    assert (root / "images/train/my_page.png").is_file() and (root / "maps/train/my_page.png").is_file()
    disc = discover(root)
    assert not disc.problems, disc.problems
    assert {p.stem: p.style for p in disc.pages} == {"my_page": "realistic", "placid_muzo_train000": "toon",
                                                     "yves_le_loup_train001": "realistic", "placid_muzo_val000": "toon"}
    # again, smaller: the pages it made before and no longer makes go; the user's stay
    synth_dataset(root, 1, 0, 0, progress=False, force=True, params=small)
    assert sorted(p.stem for p in discover(root).pages) == ["my_page", "placid_muzo_train000"]
    assert not list((root / "layout").rglob("yves_le_loup_train001.json"))
    assert "my_page,realistic" in (root / "styles.csv").read_text()
    assert "yves_le_loup_train001" not in (root / "styles.csv").read_text()


# -- 3. very large pages ---------------------------------------------------------------------------------------

@pytest.fixture
def limit():
    from comicsal import data
    yield data
    data.set_max_pixels(None)


def test_max_pixels_setting_env_and_default(limit, monkeypatch):
    monkeypatch.delenv("COMICSAL_MAX_PIXELS", raising=False)
    assert limit.MAX_PIXELS_DEFAULT == 500_000_000 and limit.max_pixels() == 500_000_000
    monkeypatch.setenv("COMICSAL_MAX_PIXELS", "600_000_000")
    assert limit.max_pixels() == 600_000_000
    limit.set_max_pixels(1234)
    assert limit.max_pixels() == 1234                     # the explicit setting (--max-pixels) wins
    limit.set_max_pixels(None)
    assert limit.max_pixels() == 600_000_000
    monkeypatch.setenv("COMICSAL_MAX_PIXELS", "lots")
    with pytest.raises(ComicsalError, match="COMICSAL_MAX_PIXELS"):
        limit.max_pixels()
    with pytest.raises(ComicsalError, match="`max_pixels`"):
        limit.set_max_pixels(0)


def test_pages_over_the_limit_are_refused_with_the_fix(limit, tmp_path):
    for split in ("train",):
        for sub in ("images", "maps"):
            (tmp_path / sub / split).mkdir(parents=True); Image.new("L", (40, 40)).save(tmp_path / sub / split / "p.png")
    limit.set_max_pixels(1000)
    with pytest.raises(UnreadableImage) as e:
        limit.open_lazy(tmp_path / "images/train/p.png")
    msg = str(e.value)
    assert "p.png" in msg and "--max-pixels" in msg and "COMICSAL_MAX_PIXELS" in msg and "megapixels" in msg
    with pytest.raises(UnreadableImage, match="--max-pixels"):
        load_map(tmp_path / "maps/train/p.png")
    for verify in (True, False):
        rep = check_dataset(tmp_path, verify=verify, progress=False)
        assert not rep.ok and len(rep.unreadable) == 2 and "--max-pixels" in rep.unreadable[0]
    limit.set_max_pixels(1600)
    assert check_dataset(tmp_path, progress=False).ok


def test_scans_over_pils_own_limit_load_under_ours(limit, tmp_path):
    "PIL warns past 89.5 MP and refuses past 179 MP; comicsal's default (500 MP) takes such scans, silently."
    (tmp_path / "images/test").mkdir(parents=True)
    big = tmp_path / "images/test/big.tif"                        # TIFF checks PIL's limit again when decoding
    Image.new("1", (13500, 13500), 1).save(big, compression="tiff_lzw")      # 182 MP, 180 kB on disk
    Image.new("1", (9500, 9500), 1).save(tmp_path / "warn.png")              # 90 MP: PIL only warns
    pil_limit = Image.MAX_IMAGE_PIXELS
    with warnings.catch_warnings():
        warnings.simplefilter("error")                            # a DecompressionBombWarning fails the test
        with limit.open_lazy(big) as im: assert im.size == (13500, 13500)
        with open_image(tmp_path / "warn.png") as im: assert im.size == (9500, 9500)
        for verify in (False, True):
            rep = check_dataset(tmp_path, verify=verify, progress=False)
            assert rep.ok, rep.summary()
            assert rep.page_sizes["big"] == (13500, 13500)
    assert Image.MAX_IMAGE_PIXELS == pil_limit                   # PIL's own setting is put back


# -- 4. scan formats, unsupported formats, broken and looping links ---------------------------------------------

def test_scan_formats_are_pages_and_gif_is_named(tmp_path):
    for sub in ("images/train", "maps/train"): (tmp_path / sub).mkdir(parents=True)
    for i, ext in enumerate((".tif", ".TIFF", ".webp", ".bmp")):
        Image.new("RGB", (8, 6), (i, i, i)).save(tmp_path / "images/train" / f"p{i}{ext}")
        Image.new("L", (8, 6), 10 * i).save(tmp_path / "maps/train" / f"p{i}.png")
    Image.new("I;16", (8, 6), 65535).save(tmp_path / "maps/train/p4.tif")      # 16-bit TIFF map
    Image.new("RGB", (8, 6)).save(tmp_path / "images/train/p4.png")
    Image.new("RGB", (8, 6)).save(tmp_path / "images/train/anim.gif")
    (tmp_path / "images/train/notes.txt").write_text("x")
    rep = check_dataset(tmp_path, progress=False)
    assert rep.ok, rep.summary()
    assert sorted(p.stem for p in rep.discovery.pages) == ["p0", "p1", "p2", "p3", "p4"]
    assert load_map(tmp_path / "maps/train/p4.tif").max() == 1.0
    text = rep.summary()
    assert "unsupported format (convert to PNG): " in text and "anim.gif" in text
    assert "ignored (not an image): " in text and "notes.txt" in text
    assert not any("anim.gif" in line and "not an image" in line for line in text.splitlines())


def test_broken_and_looping_links_are_problems(tmp_path):
    for sub in ("images/train", "maps/train", "images/test"): (tmp_path / sub).mkdir(parents=True)
    Image.new("RGB", (8, 6)).save(tmp_path / "images/train/a.png"); Image.new("L", (8, 6)).save(tmp_path / "maps/train/a.png")
    os.symlink("nowhere/ghost.png", tmp_path / "images/test/ghost.png")
    os.symlink("loop.png", tmp_path / "images/test/loop.png")
    os.symlink(tmp_path / "images/train/a.png", tmp_path / "images/test/linked.png")      # a working link is fine
    rep = check_dataset(tmp_path, progress=False)
    assert not rep.ok
    probs = "\n".join(rep.problems)
    assert "ghost.png" in probs and "broken link" in probs and "nowhere/ghost.png" in probs
    assert "loop.png" in probs and "loop" in probs.replace("loop.png", "")
    assert [p.stem for p in rep.discovery.split("test")] == ["linked"]
    # a split folder that is a broken link is named too, not taken as absent
    os.symlink(tmp_path / "gone", tmp_path / "maps/val")
    (tmp_path / "images/val").mkdir(); Image.new("RGB", (8, 6)).save(tmp_path / "images/val/v.png")
    assert any("maps/val" in p and "broken link" in p for p in discover(tmp_path).problems)


# -- 5. --no-progress downloads ---------------------------------------------------------------------------------

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


# -- 6. `data check` on things that are not datasets ----------------------------------------------------------

def _check(*args):
    "`comicsal data check ARGS --no-progress`, run in this process (a subprocess would import torch once per call)."
    from comicsal.cli import main
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        rc = main(["data", "check", *map(str, args), "--no-progress"])
    return SimpleNamespace(returncode=rc, stdout=out.getvalue(), stderr=err.getvalue())


def test_check_on_odd_paths_says_what_is_wrong(tmp_path):
    (tmp_path / "afile").write_text("x")
    (tmp_path / "img_file/images").parent.mkdir(); (tmp_path / "img_file/images").write_text("x")
    (tmp_path / "bin_styles/images/test").mkdir(parents=True)
    Image.new("RGB", (4, 4)).save(tmp_path / "bin_styles/images/test/a.png")
    (tmp_path / "bin_styles/styles.csv").write_bytes(b"\xff\xfe\x00garbage\x80\x81")
    (tmp_path / "dotted/images/test/x.png").mkdir(parents=True)          # a folder named like a page
    (tmp_path / "dotted/images/v1.0").mkdir()
    Image.new("RGB", (4, 4)).save(tmp_path / "dotted/images/test/a.png")
    (tmp_path / "split_file/images").mkdir(parents=True); (tmp_path / "split_file/images/train").write_text("x")
    cases = {"afile": "is a file, not a dataset folder", "img_file": "is a file, not a folder",
             "bin_styles": "not UTF-8", "split_file": "is a file, not a folder"}
    for name, expected in cases.items():
        r = _check(tmp_path / name)
        assert r.returncode == 1 and "Traceback" not in r.stderr, (name, r.stderr)
        assert expected in r.stdout + r.stderr and name in r.stdout + r.stderr, (name, r.stdout, r.stderr)
    r = _check(tmp_path / "dotted")
    assert r.returncode == 0 and "Traceback" not in r.stderr, r.stdout + r.stderr
    assert "ignored (a folder): " in r.stdout and "x.png" in r.stdout and "v1.0" in r.stdout, r.stdout


def test_unreadable_folders_are_named(tmp_path, monkeypatch):
    "Root ignores permissions, so the denial is simulated."
    (tmp_path / "images/train").mkdir(parents=True)
    real = Path.iterdir
    def deny(self):
        if self.name == "train": raise PermissionError(13, "Permission denied", str(self))
        return real(self)
    monkeypatch.setattr(Path, "iterdir", deny)
    with pytest.raises(ComicsalError, match=r"images/train.*[Pp]ermission denied"):
        check_dataset(tmp_path, progress=False)
