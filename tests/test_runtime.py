"""Tests for the TFLite runtime of mobilenet_thin (posekit/networks/mobilenet_tflite.py,
tools/convert_model.py and ``load_network(runtime=...)``).

Skipped when TensorFlow, the frozen graph or the sample images are missing
(``make setup``). The converted model is converted into a temporary folder
by ``tools/convert_model.py`` (so these tests do not depend on
``make assets`` having run); the default ``graph_opt.tflite`` is only used by
the ``runtime="auto"`` test, which skips when it is absent.
"""

from __future__ import annotations

import importlib.util
import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from posekit.apps import fetch

ROOT = Path(__file__).resolve().parents[1]
WEIGHTS = ROOT / "model_weights" / "mobilenet_thin" / "graph_opt.pb"
IMAGES = [ROOT / "images" / "bus.jpg", ROOT / "images" / "zidane.jpg"]

HAS_TF = importlib.util.find_spec("tensorflow") is not None
pytestmark = pytest.mark.skipif(
    not (HAS_TF and WEIGHTS.is_file() and all(p.is_file() for p in IMAGES)),
    reason="TensorFlow, mobilenet_thin weights or sample images missing (run `make setup`)",
)

#: Max |TFLite - TensorFlow| allowed on the maps (measured 1.35e-5 on zidane.jpg, 2-core
#: AMD EPYC Zen 4; README states this tolerance).
TOLERANCE = 1e-4


@pytest.fixture(scope="module")
def converted(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the frozen graph and its conversion, in a temporary folder."""
    folder = tmp_path_factory.mktemp("tflite")
    graph = folder / "graph_opt.pb"
    shutil.copyfile(WEIGHTS, graph)
    from posekit.apps import fetch

    assert fetch.main(["--weights", str(graph)]) == 0
    return folder / "graph_opt.tflite"


@pytest.fixture(scope="module")
def networks(converted: Path):
    from posekit.networks.inference import load_network

    tf_net = load_network("mobilenet_thin", weights=converted.with_suffix(".pb"),
                          runtime="tensorflow")
    tfl_net = load_network("mobilenet_thin", weights=converted.with_suffix(".pb"),
                           runtime="tflite")
    return tf_net, tfl_net


def _read(path: Path) -> np.ndarray:
    import cv2

    image = cv2.imread(str(path))
    assert image is not None
    return image


def test_conversion_writes_model_and_manifest(converted: Path) -> None:
    from posekit.networks import mobilenet_thin as mt
    from posekit.networks import mobilenet_tflite as mtl

    manifest = json.loads(mtl.manifest_path(converted).read_text())
    assert manifest["format"] == mtl.MANIFEST_FORMAT
    assert manifest["source_sha256"] == mt.WEIGHTS_SHA256
    assert manifest["tflite_sha256"] == mt.file_sha256(converted)
    assert mtl.is_current(converted, mt.WEIGHTS_SHA256)
    assert not mtl.is_current(converted, "0" * 64)
    assert not list(converted.parent.glob(".*.part"))  # no temporary file left


def test_conversion_is_idempotent(converted: Path, capsys: pytest.CaptureFixture) -> None:
    before = converted.stat().st_mtime_ns
    assert fetch.main(["--weights", str(converted.with_suffix(".pb"))]) == 0
    assert "up to date" in capsys.readouterr().out
    assert converted.stat().st_mtime_ns == before


@pytest.mark.parametrize("image_path", IMAGES, ids=lambda p: p.name)
def test_tflite_maps_equal_tensorflow(networks, image_path: Path) -> None:
    from posekit.networks.inference import infer

    tf_net, tfl_net = networks
    assert (tf_net.runtime, tfl_net.runtime) == ("tensorflow", "tflite")
    image = _read(image_path)
    expected = infer(tf_net, image)
    got = infer(tfl_net, image)
    for want, have in zip(expected, got):
        assert have.shape == want.shape and have.dtype == np.float32
        assert np.abs(have - want).max() <= TOLERANCE


def test_tensorflow_interpreter_fallback(converted: Path, networks,
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    from posekit.networks.inference import infer, load_network

    monkeypatch.setitem(sys.modules, "ai_edge_litert.interpreter", None)  # import fails
    net = load_network(weights=converted.with_suffix(".pb"), runtime="tflite", num_threads=1)
    assert net.model.interpreter == "tf.lite" and net.model.num_threads == 1
    image = _read(IMAGES[1])[:200, :300].copy()
    want = infer(networks[0], image)
    got = infer(net, image)
    assert np.abs(got[0] - want[0]).max() <= TOLERANCE
    assert np.abs(got[1] - want[1]).max() <= TOLERANCE


def test_multiscale_works_on_tflite(networks) -> None:
    from posekit.networks.inference import infer_multiscale

    tf_net, tfl_net = networks
    image = _read(IMAGES[1])[::4, ::4].copy()
    want = infer_multiscale(tf_net, image, scales=(1.0, 1.5), flip=True)
    got = infer_multiscale(tfl_net, image, scales=(1.0, 1.5), flip=True)
    assert got[2] == want[2]
    assert np.abs(got[0] - want[0]).max() <= TOLERANCE
    assert np.abs(got[1] - want[1]).max() <= TOLERANCE


def test_interpreter_resized_only_when_padded_shape_changes(converted: Path) -> None:
    from posekit.networks.inference import infer, load_network

    net = load_network(weights=converted.with_suffix(".pb"), runtime="tflite", bucket=32)
    image = _read(IMAGES[0])
    infer(net, image[:300, :400])
    infer(net, image[:290, :390])      # same 32-px bucket (320 x 416)
    infer(net, image[:300, :400])
    assert net.model.reshapes == 1 and net.model.input_shape == (1, 320, 416, 3)
    assert net.model.reshape_seconds > 0
    infer(net, image[:200, :400])      # new bucket
    assert net.model.reshapes == 2
    infer(net, image[:300, :400])      # back: that shape's interpreter is still sized
    assert net.model.reshapes == 2 and net.model.calls == 5
    assert net.input_shapes == {(320, 416), (224, 416)}
    assert net.model.shapes == ((1, 224, 416, 3), (1, 320, 416, 3))  # least recent first


def test_interpreters_per_shape_are_bounded_and_give_the_same_maps(converted: Path) -> None:
    from posekit.networks import mobilenet_tflite as mtl

    model = mtl.MobilenetThinTFLite(converted, None, num_threads=1, max_shapes=2)
    rng = np.random.default_rng(0)
    images = {h: rng.uniform(0, 255, (1, h, 64, 3)).astype(np.float32) for h in (64, 96, 128)}
    first = {h: model(x) for h, x in images.items()}  # the third shape evicts the first
    assert model.reshapes == 3 and model.shapes == ((1, 96, 64, 3), (1, 128, 64, 3))
    again = model(images[64])  # set up anew: same maps as before
    assert model.reshapes == 4 and model.shapes == ((1, 128, 64, 3), (1, 64, 64, 3))
    assert np.array_equal(again, first[64])
    assert np.array_equal(model(images[128]), first[128]) and model.reshapes == 4
    with pytest.raises(ValueError, match="max_shapes"):
        mtl.MobilenetThinTFLite(converted, None, max_shapes=0)
    model.close()
    with pytest.raises(RuntimeError, match="closed"):
        model(images[64])


def test_infer_accepts_the_tflite_model_directly(networks) -> None:
    from posekit.networks.inference import infer

    _, tfl_net = networks
    image = _read(IMAGES[1])[:120, :200].copy()
    want = infer(tfl_net, image)
    got = infer(tfl_net.model, image)
    np.testing.assert_array_equal(got[0], want[0])
    np.testing.assert_array_equal(got[1], want[1])


def test_tflite_path_loads_directly(converted: Path) -> None:
    from posekit.networks.inference import load_network

    net = load_network(weights=converted)
    assert net.runtime == "tflite"
    with pytest.raises(ValueError, match="runtime='tflite'"):
        load_network(weights=converted, runtime="tensorflow")


def test_auto_falls_back_to_tensorflow_without_conversion(tmp_path: Path) -> None:
    from posekit.networks.inference import load_network

    graph = tmp_path / "graph_opt.pb"
    shutil.copyfile(WEIGHTS, graph)
    assert load_network(weights=graph).runtime == "tensorflow"


def test_auto_takes_a_converted_model() -> None:
    """float32 TFLite, or int8 where this CPU has 8-bit dot products (the choice itself is
    tested on described CPUs in tests/test_cpu.py)."""
    from posekit.networks import cpu as cpus
    from tools.int8 import build as m8
    from posekit.networks import mobilenet_thin as mt
    from posekit.networks import mobilenet_tflite as mtl
    from posekit.networks.inference import load_network

    net = load_network()
    int8 = cpus.int8_pays(cpus.this_cpu())[0] and m8.passed_check(m8.int8_path(mt.SHIPPED_GRAPH))
    assert net.runtime == ("int8" if int8 else "tflite")
    shipped = mt.SHIPPED_GRAPH.parent / ("graph_opt.int8.tflite" if int8 else "graph_opt.tflite")
    assert Path(net.model.path) == shipped
    assert net.model.num_threads == mtl.default_num_threads() and net.runtime_reason
    assert load_network(runtime="tensorflow").runtime == "tensorflow"


@pytest.mark.parametrize("runtime, converted", [("tflite", "graph_opt.tflite"),
                                                 ("int8", "graph_opt.int8.tflite")])
def test_missing_conversion_names_file_and_command(tmp_path: Path, runtime: str,
                                                   converted: str) -> None:
    from posekit.networks.inference import load_network

    graph = tmp_path / "graph_opt.pb"
    shutil.copyfile(WEIGHTS, graph)
    with pytest.raises(FileNotFoundError, match="posekit-fetch") as info:
        load_network(weights=graph, runtime=runtime)
    assert str(tmp_path / converted) in str(info.value)


def _copy_pair(converted: Path, folder: Path) -> Path:
    from posekit.networks import mobilenet_tflite as mtl

    shutil.copyfile(converted.with_suffix(".pb"), folder / "graph_opt.pb")
    shutil.copyfile(converted, folder / "graph_opt.tflite")
    shutil.copyfile(mtl.manifest_path(converted), folder / "graph_opt.tflite.json")
    return folder / "graph_opt.tflite"


def test_corrupt_conversion_raises(converted: Path, tmp_path: Path) -> None:
    from posekit.networks.inference import load_network

    model = _copy_pair(converted, tmp_path)
    data = bytearray(model.read_bytes())
    data[len(data) // 2] ^= 0xFF
    model.write_bytes(bytes(data))
    for runtime in ("auto", "tflite"):  # auto does not silently fall back either
        with pytest.raises(ValueError, match="corrupt") as info:
            load_network(weights=tmp_path / "graph_opt.pb", runtime=runtime)
        assert str(model) in str(info.value) and "posekit-fetch" in str(info.value)


def test_auto_falls_back_when_the_manifest_is_missing(converted: Path, tmp_path: Path) -> None:
    from posekit.networks import mobilenet_tflite as mtl
    from posekit.networks.inference import load_network

    model = _copy_pair(converted, tmp_path)
    mtl.manifest_path(model).unlink()
    assert load_network(weights=tmp_path / "graph_opt.pb", runtime="auto").runtime == "tensorflow"
    with pytest.raises(FileNotFoundError):                  # asked for by name: an error
        load_network(weights=tmp_path / "graph_opt.pb", runtime="tflite")


def test_stale_conversion_raises(converted: Path, tmp_path: Path) -> None:
    from posekit.networks import mobilenet_tflite as mtl
    from posekit.networks.inference import load_network

    model = _copy_pair(converted, tmp_path)
    manifest_file = mtl.manifest_path(model)
    manifest = json.loads(manifest_file.read_text())
    manifest["source_sha256"] = "0" * 64
    manifest_file.write_text(json.dumps(manifest))
    with pytest.raises(ValueError, match="stale") as info:
        load_network(weights=tmp_path / "graph_opt.pb", runtime="tflite")
    assert str(model) in str(info.value)


def test_unloadable_conversion_raises(converted: Path, tmp_path: Path) -> None:
    from posekit.networks import mobilenet_thin as mt
    from posekit.networks import mobilenet_tflite as mtl
    from posekit.networks.inference import load_network

    model = _copy_pair(converted, tmp_path)
    model.write_bytes(b"not a flatbuffer" * 64)
    manifest_file = mtl.manifest_path(model)
    manifest = json.loads(manifest_file.read_text())
    manifest["tflite_sha256"] = mt.file_sha256(model)  # consistent, but not a model
    manifest_file.write_text(json.dumps(manifest))
    with pytest.raises(ValueError, match="cannot be loaded") as info:
        load_network(weights=tmp_path / "graph_opt.pb", runtime="tflite")
    assert str(model) in str(info.value) and "posekit-fetch" in str(info.value)
    manifest_file.write_text("{")
    with pytest.raises(ValueError, match="manifest"):
        load_network(weights=tmp_path / "graph_opt.pb", runtime="tflite")


def test_bad_runtime_arguments(converted: Path) -> None:
    from posekit.networks.inference import load_network

    with pytest.raises(ValueError, match="unknown runtime"):
        load_network(runtime="onnx")
    with pytest.raises(ValueError, match="only for mobilenet_thin"):
        load_network("vgg", runtime="tflite")
    with pytest.raises(ValueError, match="num_threads"):
        load_network(weights=converted, num_threads=0)


def test_interpreters_kept_within_the_pixel_budget(converted: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    from posekit.networks import mobilenet_tflite as mtl

    monkeypatch.setattr(mtl, "MAX_CACHED_PIXELS", 3 * 64 * 64)
    model = mtl.MobilenetThinTFLite(converted, None, num_threads=1, max_shapes=8)
    for height in (64, 72, 64):  # 64x64 + 72x64 fit: both kept, the second 64 is a hit
        model(np.zeros((1, height, 64, 3), np.float32))
    assert model.shapes == ((1, 72, 64, 3), (1, 64, 64, 3)) and model.reshapes == 2
    model(np.zeros((1, 80, 64, 3), np.float32))  # all three pass the budget: 72 goes
    assert model.shapes == ((1, 64, 64, 3), (1, 80, 64, 3)) and model.reshapes == 3


@pytest.mark.parametrize("runtime", ["auto", "tflite", "tensorflow"])
def test_loading_reads_the_graphs_hash_once(monkeypatch: pytest.MonkeyPatch, runtime: str) -> None:
    """The tensorflow runtime hashes the graph once (no cache: the loader computes it once and
    passes it on); the TFLite runtimes run the shipped models and never read the graph."""
    from posekit.networks import mobilenet_thin as mt
    from posekit.pipeline import load_pose_network

    calls = []
    real = mt.file_sha256

    def counting(path):
        calls.append(Path(path))
        return real(path)

    monkeypatch.setattr(mt, "file_sha256", counting)
    network = load_pose_network("mobilenet_thin", None, runtime=runtime)
    assert network.runtime in ("int8", "tflite", "tensorflow")
    assert calls.count(mt.DEFAULT_WEIGHTS) == (runtime == "tensorflow"), calls


def test_a_model_and_its_manifest_appear_together(tmp_path: Path) -> None:
    """One atomic writer: the model is not written when its manifest cannot be."""
    from posekit.networks import mobilenet_tflite as mtl

    dest = tmp_path / "graph_opt.tflite"
    mtl.manifest_path(dest).mkdir()               # the manifest's name is taken by a folder
    with pytest.raises(ValueError, match="folder"):
        mtl.write_model(dest, b"model bytes", {"format": "x"})
    assert sorted(p.name for p in tmp_path.iterdir()) == [mtl.manifest_path(dest).name]
    mtl.manifest_path(dest).rmdir()
    mtl.write_model(dest, b"model bytes", {"format": "x"})
    assert dest.read_bytes() == b"model bytes"
    assert json.loads(mtl.manifest_path(dest).read_text()) == {"format": "x"}
