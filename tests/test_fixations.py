"""comicsal.fixations: the recorded eye-tracking sets (../shared/data/attention) load with their fixations."""
import numpy as np
from conftest import ATT, needs_attention

from comicsal.data import discover
from comicsal.fixations import load_fixations, page_fixations


@needs_attention
def test_attention_sets_load():
    mit = discover(ATT / "mit1003")
    assert len(mit.pages) == 1003 and not mit.problems
    assert len(mit.split("val")) == 111                                      # fold 0 of 10, fixed by crc32(stem)
    p = mit.split("val")[0]
    pts, (h, w) = load_fixations(p.fixations)
    assert len(pts) > 15 and (h, w) == tuple(np.asarray(__import__("PIL.Image", fromlist=["x"]).open(p.image)).shape[:2])
    fiwi = discover(ATT / "fiwi")
    assert len(fiwi.pages) == 51 and all(q.fixations is not None for q in fiwi.pages)
    assert page_fixations(fiwi.pages[0], (384, 683)).max(0)[0] < 683
    gdi = discover(ATT / "gdi")
    assert len(gdi.pages) == 51 and all(q.fixations is None and q.fixmap is None for q in gdi.pages)
