"""Tests of posekit.estimator: PoseEstimator on paths, arrays, PIL images, lists, folders,
videos and streams; tracking; and the runnable examples of docs/library.md."""

from __future__ import annotations

import logging
import re
import shutil
import sys
import types

import cv2
import numpy as np
import pytest

from posekit import PoseEstimator, PoseResult
from posekit.networks.inference import PoseNetwork

from conftest import IMAGES, ROOT, write_clip

BUS = IMAGES / "bus.jpg"


def counting_network(calls: list) -> PoseNetwork:
    """A stand-in network with all-zero maps (no people) that counts its runs."""

    def backend(batch):
        calls.append(batch.shape)
        _, hp, wp, _ = batch.shape
        return (np.zeros((1, hp // 8, wp // 8, 19), np.float32),
                np.zeros((1, hp // 8, wp // 8, 38), np.float32))

    return PoseNetwork("zero", backend)


@pytest.fixture(scope="module")
def estimator():
    from posekit.networks.inference import load_network

    if not BUS.is_file():
        pytest.skip("images/bus.jpg missing (run `make setup`)")
    return PoseEstimator(load_network(runtime="tflite"))


def test_a_path_gives_one_result_the_same_as_its_array(estimator):
    by_array = estimator(cv2.imread(str(BUS)))
    for source in (str(BUS), BUS):
        result = estimator(source)
        assert isinstance(result, PoseResult)
        assert result.path == str(BUS) and result.frame is None
        assert len(result.people) >= 2
        np.testing.assert_array_equal(result.keypoints, by_array.keypoints)
    assert by_array.path is None and by_array.frame is None


def test_rgb_arrays_and_pil_images_give_the_bgr_result(estimator, small_bus, monkeypatch):
    bgr = estimator(small_bus)
    rgb = np.ascontiguousarray(small_bus[..., ::-1])
    np.testing.assert_array_equal(estimator(rgb, color="rgb").keypoints, bgr.keypoints)

    class Image:                       # Pillow's interface as posekit uses it (not installed)
        def __init__(self, array, mode):
            self.array, self.mode = array, mode

        def convert(self, mode):
            assert mode == "RGB"
            return self.array[..., :3]

    fake = types.ModuleType("PIL.Image")
    fake.Image = Image
    monkeypatch.setitem(sys.modules, "PIL.Image", fake)
    rgba = np.dstack([rgb, np.full(rgb.shape[:2], 255, np.uint8)])
    result = estimator(Image(rgba, "RGBA"))
    assert isinstance(result, PoseResult) and result.color == "rgb"
    np.testing.assert_array_equal(result.keypoints, bgr.keypoints)


def test_a_real_pil_image(estimator, small_bus):
    pil = pytest.importorskip("PIL.Image")
    image = pil.fromarray(np.ascontiguousarray(small_bus[..., ::-1]))
    np.testing.assert_array_equal(estimator(image).keypoints, estimator(small_bus).keypoints)


def test_lists_folders_and_streams_give_iterators_in_order(estimator, tmp_path, small_bus):
    folder = tmp_path / "shots"
    (folder / "sub").mkdir(parents=True)
    (folder / ".hidden").mkdir()
    cv2.imwrite(str(folder / "b.png"), small_bus)
    cv2.imwrite(str(folder / "sub" / "a.jpg"), small_bus)
    cv2.imwrite(str(folder / ".hidden" / "c.png"), small_bus)
    (folder / "notes.txt").write_text("not an image")
    results = estimator(folder)
    assert not isinstance(results, (list, tuple, PoseResult)) and iter(results) is results
    assert [r.path for r in results] == [str(folder / "b.png"), str(folder / "sub" / "a.jpg")]

    listed = list(estimator([folder / "b.png", small_bus, (folder / "sub" / "a.jpg")]))
    assert [r.path for r in listed] == [str(folder / "b.png"), None,
                                        str(folder / "sub" / "a.jpg")]
    assert all(len(r.people) >= 2 for r in listed)
    streamed = list(estimator(iter([small_bus, small_bus])))
    assert len(streamed) == 2 and all(r.path is None for r in streamed)


def test_a_video_is_read_lazily_frame_by_frame(tmp_path, small_bus):
    clip = tmp_path / "clip.avi"
    write_clip(clip, small_bus, 5)
    calls = []
    results = PoseEstimator(counting_network(calls))(clip)
    assert calls == []                                   # nothing estimated at the call
    first = next(results)
    assert (first.path, first.frame, len(calls)) == (str(clip), 0, 1)
    assert [r.frame for r in results] == [1, 2, 3, 4] and len(calls) == 5


def test_an_unreadable_file_among_many_is_skipped_with_one_warning(tmp_path, small_bus, caplog):
    folder = tmp_path / "mixed"
    folder.mkdir()
    cv2.imwrite(str(folder / "a.png"), small_bus)
    (folder / "b.jpg").write_bytes(b"not a jpeg at all")
    cv2.imwrite(str(folder / "c.png"), small_bus)
    calls = []
    with caplog.at_level(logging.WARNING, logger="posekit.estimator"):
        paths = [r.path for r in PoseEstimator(counting_network(calls))(folder)]
    assert paths == [str(folder / "a.png"), str(folder / "c.png")]
    assert [r.getMessage() for r in caplog.records if "b.jpg" in r.getMessage()] != []
    with pytest.raises(ValueError, match=r"^source: .*b\.jpg"):   # alone, it is an error
        PoseEstimator(counting_network(calls))(folder / "b.jpg")


@pytest.mark.parametrize("make, message", [
    (lambda d: 3, r"^source must be a path .* got int"),
    (lambda d: b"bus.jpg", r"^source must be .* got bytes"),
    (lambda d: d / "missing.jpg", r"^source: no such file or folder"),
    (lambda d: [str(BUS), d / "missing.png"], r"^source\[1\]: no such file or folder"),
    (lambda d: [[str(BUS)]], r"^source\[0\] must be .* got list"),
    (lambda d: np.zeros((8, 8), np.uint8), r"^source must be a \(H, W, 3\) uint8 .*\(8, 8\)"),
    (lambda d: [np.zeros((8, 8, 3), np.float32)], r"^source\[0\] must be .*float32"),
    (lambda d: d / "notes.txt", r"^source: .*notes\.txt is neither an image nor a video"),
])
def test_bad_input_is_a_value_error_naming_the_argument(tmp_path, make, message):
    (tmp_path / "notes.txt").write_text("x")
    calls = []
    with pytest.raises(ValueError, match=message):
        PoseEstimator(counting_network(calls))(make(tmp_path))
    assert calls == []


def test_bad_color_fps_and_tracker_are_value_errors():
    estimator = PoseEstimator(counting_network([]))
    with pytest.raises(ValueError, match="^color"):
        estimator(str(BUS), color="hsv")
    with pytest.raises(ValueError, match="^fps"):
        estimator.track([np.zeros((16, 16, 3), np.uint8)], fps=0)
    with pytest.raises(ValueError, match="^tracker"):
        estimator.track([np.zeros((16, 16, 3), np.uint8)], tracker={"max_missed": 3})


def test_track_sets_the_same_track_id_along_a_video(estimator, tmp_path, small_bus):
    clip = tmp_path / "pan.avi"
    write_clip(clip, small_bus, 6)
    results = list(estimator.track(clip))
    assert [r.frame for r in results] == list(range(6)) and results[0].path == str(clip)
    ids = [sorted(p.track_id for p in r.people) for r in results]
    assert all(all(isinstance(i, int) for i in frame) for frame in ids)
    assert len(ids[0]) >= 2 and all(frame == ids[0] for frame in ids), ids
    assert results[0].to_json()[0]["track_id"] in ids[0]
    assert all(p.track_id is None for p in estimator(clip).__next__().people)

    frames = list(estimator.track((np.roll(small_bus, 3 * k, axis=1) for k in range(3)), fps=10))
    assert len(frames) == 3 and [sorted(p.track_id for p in r.people) for r in frames] \
        == [sorted(p.track_id for p in frames[0].people)] * 3


def docs_blocks() -> list:
    """The ```python blocks of docs/library.md, in order."""
    text = (ROOT / "docs" / "library.md").read_text()
    return re.findall(r"```python\n(.*?)```", text, flags=re.DOTALL)


def test_the_library_page_examples_run(tmp_path, monkeypatch, capsys):
    """Every example of docs/library.md runs, in order, in one namespace, from a folder with
    the sample images (images/1.jpg, bus.jpg, zidane.jpg)."""
    blocks = docs_blocks()
    assert len(blocks) >= 5
    text = "".join(blocks)
    for name in ("people", "keypoints", "keypoint_names", "plot()", "to_json()", "table()",
                 "coco(", ".track("):
        assert name in text, name
    (tmp_path / "images").mkdir()
    for name in ("1.jpg", "bus.jpg", "zidane.jpg"):
        if not (IMAGES / name).is_file():
            pytest.skip(f"images/{name} missing (run `make setup`)")
        shutil.copy(IMAGES / name, tmp_path / "images" / name)
    monkeypatch.chdir(tmp_path)
    namespace: dict = {"__name__": "library_md"}
    for k, block in enumerate(blocks):
        exec(compile(block, f"docs/library.md block {k + 1}", "exec"), namespace)
    assert (tmp_path / "bus_pose.jpg").stat().st_size > 0
    printed = capsys.readouterr().out
    assert "images/bus.jpg" in printed and "clip.avi 5" in printed
