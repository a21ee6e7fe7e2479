"""Tests of posekit.apps.batch.settings: what a batch run records of its settings, and when they differ.

A fake network (its runtime and the file it loaded) stands for a loaded one; the
batch runs themselves (a rerun with other settings redoes its items) are in
tests/test_batch.py.
"""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from posekit.apps.batch.settings import (changed, files_sha256, item_settings, network_sha256,
                                    run_settings, weights_files)


@pytest.fixture
def files(tmp_path):
    graph, converted = tmp_path / "graph.pb", tmp_path / "graph.tflite"
    graph.write_bytes(b"graph")
    converted.write_bytes(b"converted")
    return graph, converted


def settings(files, runtime="tflite", decoder="best", thresholds=None, max_side=640,
             track=True):
    graph, converted = files
    network = SimpleNamespace(runtime=runtime, model=SimpleNamespace(path=converted))
    return run_settings(network, "mobilenet_thin", str(graph), decoder, thresholds or {},
                        max_side, track)


def test_every_setting_that_changes_an_output_is_recorded(files):
    base = settings(files)
    assert base["runtime"] == "tflite" and base["decoder"] == "best"
    assert base["network_sha256"] == files_sha256([files[1]]) != base["weights_sha256"]
    assert base["decoder_params"]["min_parts"] == 4 and base["max_side"] == 640
    cases = {"decoder": dict(decoder="lab"), "decoder_params": dict(thresholds={"min_parts": 18}),
             "max_side": dict(max_side=0), "runtime": dict(runtime="int8"),
             "track": dict(track=False)}
    for key, change in cases.items():
        other = settings(files, **change)
        assert key in changed(base, other), key
    files[1].write_bytes(b"converted again")               # another converted model
    assert changed(base, settings(files)) == ["network_sha256"]
    files[0].write_bytes(b"other graph")                    # other weights
    assert "weights_sha256" in changed(base, settings(files))


def test_a_default_given_explicitly_is_the_same_setting(files):
    assert changed(settings(files), settings(files, thresholds={"min_parts": 4,
                                                                "peak_threshold": None})) == []


def test_images_do_not_depend_on_tracking(files):
    tracked, untracked = settings(files), settings(files, track=False)
    assert item_settings(tracked, "image") == item_settings(untracked, "image")
    assert item_settings(tracked, "video") != item_settings(untracked, "video")
    assert changed(None, tracked) == sorted(tracked)        # no record: every setting differs


def test_weights_files_and_the_network_file(tmp_path, files):
    prefix = tmp_path / "ckpt"
    for suffix in (".index", ".data-00000-of-00001"):
        (tmp_path / f"ckpt{suffix}").write_bytes(suffix.encode())
    assert [p.name for p in weights_files("vgg", str(prefix))] == [
        "ckpt.data-00000-of-00001", "ckpt.index"]
    with pytest.raises(ValueError, match="no weights files"):
        weights_files("vgg", str(tmp_path / "missing"))
    plain = SimpleNamespace(runtime="tensorflow", model=object())   # read the weights
    assert network_sha256(plain, "mobilenet_thin", str(files[0])) == files_sha256([files[0]])
