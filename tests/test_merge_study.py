"""Tests of studies/merge_study.py, the study behind merge.py's order (no timing asserted)."""

import numpy as np

from studies import merge_study

from test_bench_merge import write_cache
from test_evaluate import coco_set, person


def row(slots, score):
    r = -np.ones(20)
    for slot, part_id in slots.items():
        r[slot] = part_id
    r[18], r[19] = score, 2
    return r


def test_oracle_groups_rows_by_labels_and_drops_mixed_ones():
    rows = np.array([row({1: 1, 2: 2}, 2.0), row({2: 2, 3: 3}, 1.5), row({3: 3, 4: 4}, 1.0),
                     row({1: 1, 5: 5}, 1.2),     # id 5 is someone else's: dropped
                     row({5: 5, 6: 6}, 1.1)])    # the other person, two parts only
    labels = {1: 0, 2: 0, 3: 0, 4: 0, 5: 1, 6: 1}
    out = merge_study.oracle_merge(rows, labels)
    assert out.shape == (1, 20)
    assert out[0, :5].tolist() == [-1, 1, 2, 3, 4] and out[0, 18] == 4.5 and out[0, 19] == 4
    assert len(merge_study.oracle_merge(rows, labels, min_num_body_parts=2)) == 2


def test_peaks_take_the_nearest_person_by_oks():
    kps = np.zeros((17, 3))
    kps[0] = 35.5, 19.5, 2                   # the nose at pixel (35.5, 19.5): cell (4, 2)
    coords = {"nose": [(4, 2, 0.9, 0), (9, 9, 0.8, 1)]}
    labels = merge_study.label_peaks(coords, 1.0, [{"keypoints": kps.ravel().tolist(),
                                                    "area": 900.0}])
    assert labels == {0: 0, 1: -1}


def test_study_runs_on_a_maps_cache(tmp_path, capsys):
    coco_set(tmp_path / "person_keypoints.json",
             [(1, "a.jpg", 368, 368, [person(100, 40, 250)]),
              (2, "b.jpg", 368, 368, [person(100, 40, 250)])])
    write_cache(tmp_path / "maps", [(1, 1.0), (2, 1.0)])
    previous = tmp_path / "old_merge.py"
    previous.write_text(open(merge_study.merge_module.__file__).read())
    assert merge_study.main(["--maps-cache", str(tmp_path / "maps"), "--dev-dir", str(tmp_path),
                             "--previous", str(previous)]) == 0
    out = capsys.readouterr().out
    for kit in ("printed", "cmu"):
        assert f"## rows: {kit}" in out
    assert out.count("penalty sweep") == 2 and out.count("ceiling") == 2
    assert out.count("ours / previous") == 2
    assert merge_study.merge_module.COMPETITOR_PENALTY == 0.4     # restored after the sweep
    (tmp_path / "maps" / "1.npz").unlink()
    assert merge_study.main(["--maps-cache", str(tmp_path / "maps"),
                             "--dev-dir", str(tmp_path)]) == 2
