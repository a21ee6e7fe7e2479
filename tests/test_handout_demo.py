"""The handout's own demo_image.py runs unchanged against our packages.

``tests/data/handout_demo_image.py`` is the demo as printed in the handout. It
runs as ``__main__`` (``runpy``) from a lab-like folder (``model_weights/openpose``
= the replica of the lab checkpoint, ``images/1.jpg``) with the project on the
import path, as ``python demo_image.py`` runs in the lab kit. One network run on
``images/1.jpg`` at a third of its size (270 x 360: the lab's VGG costs about
60 s on 2 cores at full size, 7 s at this one; the demo's code path is the
same): ``draw`` is watched, not replaced, so the test can check what reached
output.png.
"""

from __future__ import annotations

import runpy
import shutil
import subprocess
import sys

import numpy as np
import pytest

from conftest import DATA, ROOT

pytest.importorskip("tensorflow")
cv2 = pytest.importorskip("cv2")

IMAGE = ROOT / "images" / "1.jpg"


@pytest.fixture(scope="module")
def lab_run(tmp_path_factory, replica_prefix):
    """Run the handout demo once; return its folder, what it printed and what it drew."""
    import estimation.renderers

    if not IMAGE.exists():
        pytest.fail(f"{IMAGE} is missing: run `make setup`")
    lab = tmp_path_factory.mktemp("EAI_Lab3")
    (lab / "model_weights").mkdir()
    (lab / "images").mkdir()
    for suffix in (".index", ".data-00000-of-00001"):
        (lab / "model_weights" / ("openpose" + suffix)).symlink_to(
            replica_prefix.with_name("openpose" + suffix))
    photo = cv2.imread(str(IMAGE))
    cv2.imwrite(str(lab / "images" / "1.jpg"),
                cv2.resize(photo, (photo.shape[1] // 3, photo.shape[0] // 3),
                           interpolation=cv2.INTER_AREA))
    shutil.copy(DATA / "handout_demo_image.py", lab / "demo_image.py")
    drawn = {}
    real_draw = estimation.renderers.draw

    def watched_draw(cfg, img, coordinates, skeletons, resize_fac=8):
        drawn.update(img=img.copy(), coordinates=coordinates, skeletons=skeletons,
                     resize_fac=resize_fac)
        drawn["output"] = real_draw(cfg, img, coordinates, skeletons, resize_fac=resize_fac)
        return drawn["output"]

    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(lab)
        mp.setattr(estimation.renderers, "draw", watched_draw)
        import io
        from contextlib import redirect_stdout

        printed = io.StringIO()
        with redirect_stdout(printed):
            runpy.run_path(str(lab / "demo_image.py"), run_name="__main__")
    return lab, printed.getvalue(), drawn


def test_handout_demo_writes_the_drawn_skeletons_to_output_png(lab_run):
    lab, printed, drawn = lab_run
    seconds = float(printed.strip().splitlines()[-1])
    assert 0 <= seconds < 60, "the demo prints the grouping time in seconds"
    out = cv2.imread(str(lab / "output.png"))
    source = cv2.imread(str(lab / "images" / "1.jpg"))
    assert out is not None and out.shape == source.shape
    np.testing.assert_array_equal(out, drawn["output"])
    np.testing.assert_array_equal(drawn["img"], source)
    assert drawn["resize_fac"] == 8


def test_handout_demo_found_peaks_and_valid_skeletons(lab_run):
    _, _, drawn = lab_run
    coords, skeletons = drawn["coordinates"], drawn["skeletons"]
    peaks = {int(p[3]): p for part in coords.values() for p in part}
    assert peaks, "the replica network's maps give peaks"
    assert skeletons.ndim == 2 and skeletons.shape[1] == 20
    used = skeletons[:, :18][skeletons[:, :18] >= 0].astype(int)
    assert len(used) == len(set(used.tolist())) and set(used.tolist()) <= set(peaks)
    assert (skeletons[:, 19] >= 4).all()
    # A joint is drawn on every part of every skeleton: its pixel changed.
    img, out = drawn["img"], drawn["output"]
    for part_id in used.tolist():
        x, y = (round(8 * c + 3.5) for c in peaks[part_id][:2])
        assert (out[y, x] != img[y, x]).any()


def test_import_estimation_stays_free_of_tensorflow():
    code = ("import sys, importlib, estimation, models, tf_netbuilder_ext.extensions as e; "
            "e.register_tf_netbuilder_extensions(); "
            "assert 'tensorflow' not in sys.modules and 'keras' not in sys.modules, "
            "sorted(m for m in sys.modules if m.startswith(('tensorflow', 'keras')))[:3]; "
            "from estimation import merge; assert callable(merge); "
            "print(merge([[0, 1] + [-1] * 16 + [2.0, 2]], 2, 0).shape)")
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "(1, 20)"
