"""Tests of posekit.io.sources: folder trees, glob patterns, list files and unique output names."""

from __future__ import annotations

from pathlib import Path, PurePosixPath

import pytest

from posekit.io.sources import Item, collect, unique_names


def touch(*paths: Path) -> None:
    for path in paths:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"x")


def test_a_folder_is_read_recursively_by_extension(tmp_path):
    src = tmp_path / "in"
    touch(src / "b.jpg", src / "a" / "c.PNG", src / "a" / "clip.mp4", src / "notes.txt",
          src / ".hidden.jpg", src / ".cache" / "d.jpg")
    items = collect([str(src)], tmp_path / "out")
    assert [(Path(i.path).relative_to(src).as_posix(), i.kind, i.name) for i in items] == [
        ("a/c.PNG", "image", "a/c"), ("a/clip.mp4", "video", "a/clip"), ("b.jpg", "image", "b")]
    assert [i.index for i in items] == [0, 1, 2]


def test_output_paths_follow_the_demo_names():
    assert Item(0, "/x/bus.jpg", "image", "a/bus").output() == "a/bus_keypoints.json"
    assert Item(0, "/x/c.mp4", "video", "a/c").output(7) == "a/c/c_000000000007_keypoints.json"


def test_glob_and_list_file_inputs(tmp_path):
    touch(tmp_path / "d" / "x" / "1.jpg", tmp_path / "d" / "y" / "2.jpg", tmp_path / "d" / "3.avi")
    items = collect([str(tmp_path / "d" / "**" / "*.jpg")], tmp_path / "out")
    assert [i.name for i in items] == ["x/1", "y/2"]
    listing = tmp_path / "d" / "files.txt"
    listing.write_text("# comment\n\nx/1.jpg\n3.avi\nmissing.mov\n")
    items = collect([str(listing)], tmp_path / "out")
    assert [(i.name, i.kind) for i in items] == [("x/1", "image"), ("3", "video"),
                                                 ("missing", "video")]


def test_each_file_once_over_several_inputs(tmp_path):
    touch(tmp_path / "in" / "a.jpg")
    items = collect([str(tmp_path / "in"), str(tmp_path / "in" / "a.jpg")], tmp_path / "out")
    assert len(items) == 1


def test_names_are_unique_ignoring_case():
    rels = [PurePosixPath(p) for p in ("bus.jpg", "bus.PNG", "Clip.mp4", "clip.avi", "s/bus.jpg",
                                       "manifest.json.mp4")]
    names = unique_names(rels)
    assert names == ["bus_jpg", "bus_png", "Clip_mp4", "clip_avi", "s/bus", "manifest.json_2"]
    assert len({n.lower() for n in names}) == len(names)


@pytest.mark.parametrize("case", ["missing", "output inside", "nothing"])
def test_bad_inputs_are_value_errors(tmp_path, case):
    src = tmp_path / "in"
    src.mkdir()
    if case == "missing":
        args, fragment = [str(tmp_path / "nope")], "no such file"
    elif case == "output inside":
        touch(src / "a.jpg")
        args, fragment = [str(src)], "inside the input folder"
        with pytest.raises(ValueError, match=fragment):
            collect(args, src / "out")
        return
    else:
        args, fragment = [str(src)], "no images or videos"
    with pytest.raises(ValueError, match=fragment):
        collect(args, tmp_path / "out")


def test_demo_names_keep_frame_files_beside_the_video_apart():
    """The demo's folder runs write a video's frames as NAME_<frame>_keypoints.json beside
    NAME.mp4 (``beside``): an image whose outputs would be one of them moves aside."""
    rels = [PurePosixPath(n) for n in ("a.avi", "a.mp4", "a_000000000000.jpg", "b.mp4",
                                       "b_000000000003.png", "B_000000000003_2.jpg")]
    kinds = ["video", "video", "image", "video", "image", "image"]
    assert unique_names(rels, kinds, beside=True) == [
        "a_avi", "a_mp4", "a_000000000000", "b", "b_000000000003_3", "B_000000000003_2"]
    assert unique_names(rels, kinds)[4] == "b_000000000003"     # the batch: frames in b/
