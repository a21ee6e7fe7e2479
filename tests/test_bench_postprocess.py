"""benchmarks/bench_postprocess.py: maps cached once, decoders timed, their outputs hashed."""

import re

import numpy as np
import pytest

from benchmarks import bench_postprocess
from posekit.paths import ROOT

DEV = ROOT.parent / "shared" / "eval" / "coco_val2017_dev"
LINE = re.compile(r"2 images, completion (on|off), best of 1, process CPU time: single mean "
                  r"[\d.]+ ms, median [\d.]+ ms; scale-aware mean [\d.]+ ms, median [\d.]+ ms; "
                  r"digest ([0-9a-f]{16})")


@pytest.mark.skipif(not DEV.is_dir(), reason="the dev set (../shared/eval) is not here")
def test_maps_are_cached_once_and_the_digest_follows_the_decoding(tmp_path, capsys):
    args = ["--images", str(DEV / "images"), "--annotations", str(DEV / "person_keypoints.json"),
            "--maps", str(tmp_path / "maps"), "--limit", "2", "--repeat", "1"]
    assert bench_postprocess.main(args) == 0
    first = LINE.fullmatch(capsys.readouterr().out.strip())
    cached = sorted(tmp_path.joinpath("maps").iterdir())
    assert first and first.group(1) == "on" and len(cached) == 2
    with np.load(cached[0]) as z:                   # full-size maps and both second passes
        assert z["hm"].shape[2] == 19 and z["pf"].shape[2] == 38
        assert z["shm"].shape == z["mhm"].shape == z["hm"].shape
    stamps = [p.stat().st_mtime_ns for p in cached]
    assert bench_postprocess.main(args) == 0         # from the cache: the same outputs
    again = LINE.fullmatch(capsys.readouterr().out.strip())
    assert again.group(2) == first.group(2)
    assert [p.stat().st_mtime_ns for p in cached] == stamps
    assert bench_postprocess.main(args + ["--no-complete"]) == 0
    bare = LINE.fullmatch(capsys.readouterr().out.strip())
    assert bare.group(1) == "off" and bare.group(2) != first.group(2)   # no guessed keypoints


def test_a_repeat_below_one_is_refused(tmp_path):
    with pytest.raises(SystemExit):
        bench_postprocess.main(["--images", str(tmp_path), "--annotations", str(tmp_path / "a"),
                                "--maps", str(tmp_path / "m"), "--repeat", "0"])
