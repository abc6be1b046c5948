"""comicsal.config: output folders (`ensure_writable`): a file in their place is refused by every command."""
from commands import cli, no_traceback


def test_out_that_is_a_file(sample, tmp_path):
    f = tmp_path / "notes.txt"; f.write_text("mine")
    for argv in (["predict", "--model", "centre-bias", "--images", sample, "--out", f, "--force"],
                 ["evaluate", "--reference", "centre", "--gt", sample, "--out", f, "--force"],
                 ["train", "--data", sample, "--model", "centre-bias", "--out", f, "--force"],
                 ["data", "synth", "--out", f, "--force", "--n-train", "1", "--n-val", "0", "--n-test", "0"]):
        rc, _, err = cli(*argv, "--no-progress")
        assert rc == 1 and "is a file" in err, (argv, err)
        no_traceback(err)
    assert f.read_text() == "mine"
