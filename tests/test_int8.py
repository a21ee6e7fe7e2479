"""Tests for the int8 runtime of mobilenet_thin (tools/int8/build.py, ``runtime="int8"``,
``runtime="auto"``'s choice and ``accurate_network``).

Skipped when TensorFlow, the frozen graph or the sample images are missing
(``make setup``). The weight rewrite is checked for exactness on the real
graph (small inputs, a few seconds); the tests of the built int8 model use
``model_weights/mobilenet_thin/graph_opt.int8.tflite``, committed to the
repository (rebuilt from the dev set by ``make int8``).
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
WEIGHTS = ROOT / "model_weights" / "mobilenet_thin" / "graph_opt.pb"
#: The models shipped in the package (committed; never fetched or converted at set-up).
SHIPPED = ROOT / "posekit" / "networks" / "weights" / "mobilenet_thin"
FLOAT_MODEL = SHIPPED / "graph_opt.tflite"
INT8_MODEL = SHIPPED / "graph_opt.int8.tflite"
IMAGES = [ROOT / "images" / "bus.jpg", ROOT / "images" / "zidane.jpg"]

HAS_TF = importlib.util.find_spec("tensorflow") is not None
pytestmark = pytest.mark.skipif(
    not (HAS_TF and WEIGHTS.is_file() and all(p.is_file() for p in IMAGES)),
    reason="TensorFlow, mobilenet_thin weights or sample images missing (run `make setup`)",
)
# Both models are in the repository: a missing one fails here instead of skipping tests.
assert FLOAT_MODEL.is_file() and INT8_MODEL.is_file(), f"shipped models missing in {SHIPPED}"


def _run_graph(graph_def, batch: np.ndarray) -> np.ndarray:
    import tensorflow as tf

    from posekit.networks.mobilenet_thin import INPUT_TENSOR, OUTPUT_TENSOR

    graph = tf.Graph()
    with graph.as_default():
        tf.compat.v1.import_graph_def(graph_def, name="")
    with tf.compat.v1.Session(graph=graph) as session:
        return session.run(OUTPUT_TENSOR, {INPUT_TENSOR: batch})


@pytest.fixture(scope="module")
def small_batches():
    from tools.int8 import build as m8

    return m8.calibration_batches(sides=(96,))


def test_calibration_batches_come_from_the_sample_images(small_batches) -> None:
    from tools.int8 import build as m8

    # 2 images x 1 side x (resized, mirrored, centre crop)
    assert len(small_batches) == 3 * len(m8.CALIBRATION_IMAGES)
    for batch in small_batches:
        assert batch.dtype == np.float32 and batch.ndim == 4 and batch.shape[0] == 1
        assert batch.shape[1] % 8 == 0 and batch.shape[2] % 8 == 0
        assert max(batch.shape[1:3]) <= 96 and 0 <= batch.min() and batch.max() <= 255
    np.testing.assert_array_equal(small_batches[1][0], small_batches[0][0][:, ::-1])


def test_calibration_batches_name_missing_and_corrupt_images(tmp_path: Path) -> None:
    from tools.int8 import build as m8

    with pytest.raises(FileNotFoundError, match="make setup"):
        m8.calibration_batches(tmp_path)
    (tmp_path / "bus.jpg").write_bytes(b"not a jpeg")
    with pytest.raises(ValueError, match="bus.jpg"):
        m8.calibration_batches(tmp_path, names=("bus.jpg",))


@pytest.fixture(scope="module")
def prepared(small_batches):
    """The rewritten graph (its ranges measured on ``small_batches``)."""
    from tools.int8 import build as m8

    return m8.prepared_graph(WEIGHTS, small_batches)


def test_weight_rewrite_is_exact(small_batches, prepared) -> None:
    """Belief rescaling, 1x1 folding and the three equalizations keep the network's function."""
    from posekit.networks.mobilenet_thin import load_graph_def

    original = load_graph_def(WEIGHTS)
    assert len(prepared.node) == len(original.node) - 2 * 24  # 24 folded layers + weights
    batch = np.ascontiguousarray(small_batches[0][:, :64, :64])
    expected, got = _run_graph(original, batch), _run_graph(prepared, batch)
    assert np.abs(got - expected).max() < 1e-3


def test_concatenation_inputs_share_one_range(small_batches, prepared) -> None:
    """After the rewrite every live channel entering the concatenations has the same range."""
    from tools.int8 import rewrite as rw
    from posekit.networks.mobilenet_thin import load_graph_def

    names = ["feat_concat", "Openpose/MConv_Stage2_concat", "Openpose/MConv_Stage6_concat"]
    before = rw.channel_ranges(load_graph_def(WEIGHTS), small_batches, names)
    after = rw.channel_ranges(prepared, small_batches, names)
    for name in names:
        live = before[name] > 0
        assert before[name][live].max() > 3 * before[name][live].min()  # unequal to begin with
        np.testing.assert_allclose(after[name][live], after[name][live].max(), rtol=1e-3)


def test_equalize_concats_refuses_a_source_without_a_convolution() -> None:
    """A concatenation input that no convolution with a bias produces cannot take a factor."""
    import tensorflow as tf

    from tools.int8 import rewrite as rw

    graph = tf.Graph()
    with graph.as_default():
        image = tf.compat.v1.placeholder(tf.float32, (1, 8, 8, 3), name="image")
        joined = tf.concat([image, image], axis=3, name="joined")
        filt = tf.constant(np.ones((3, 3, 6, 1), np.float32))
        tf.nn.depthwise_conv2d(joined, filt, [1, 1, 1, 1], "SAME", name="reader")
    batch = np.ones((1, 8, 8, 3), np.float32)
    with pytest.raises(ValueError, match="'image' does not come from a convolution"):
        rw.equalize_concats(graph.as_graph_def(), [batch])


def test_fold_removes_every_1x1_depthwise_layer() -> None:
    from tools.int8 import build as m8
    from posekit.networks.mobilenet_thin import load_graph_def

    graph = m8.fold_1x1_depthwise(load_graph_def(WEIGHTS))
    consts = m8._consts(graph)
    kernels = [m8._get(consts[n.input[1]]).shape[:2] for n in graph.node
               if n.op == "DepthwiseConv2dNative"]
    assert len(kernels) == 71 - 24 and (1, 1) not in kernels


def test_rescale_beliefs_rejects_bad_factor() -> None:
    from tools.int8 import build as m8
    from posekit.networks.mobilenet_thin import load_graph_def

    with pytest.raises(ValueError, match="factor"):
        m8.rescale_beliefs(load_graph_def(WEIGHTS), 0.0)


def test_int8_path_and_passed_check(tmp_path: Path) -> None:
    from tools.int8 import build as m8

    assert m8.int8_path(tmp_path / "graph_opt.pb") == tmp_path / "graph_opt.int8.tflite"
    model = tmp_path / "m.int8.tflite"
    assert not m8.passed_check(model)  # no manifest
    (tmp_path / "m.int8.tflite.json").write_text("{not json")
    assert not m8.passed_check(model)
    (tmp_path / "m.int8.tflite.json").write_text(json.dumps({"passed_check": True}))
    assert m8.passed_check(model)


def test_int8_runtime_gives_maps_close_to_float() -> None:
    import cv2

    from posekit.networks.inference import infer, load_network

    image = cv2.resize(cv2.imread(str(IMAGES[1])), (656, 368))
    int8 = load_network(runtime="int8", num_threads=1)
    float32 = load_network(runtime="tflite", num_threads=1)
    assert int8.runtime == "int8" and float32.runtime == "tflite"
    got, expected = infer(int8, image), infer(float32, image)
    for q, f in zip(got, expected):
        assert q.shape == f.shape and q.dtype == np.float32
        assert np.abs(q - f).mean() < 0.05  # measured about 0.01-0.02 (README)
        assert not np.array_equal(q, f)  # really another model


def test_manifest_records_the_provenance_and_the_check() -> None:
    import hashlib

    from tools.int8 import build as m8
    from posekit.networks.mobilenet_thin import WEIGHTS_SHA256

    manifest = json.loads(INT8_MODEL.with_name(INT8_MODEL.name + ".json").read_text())
    assert manifest["tflite_sha256"] == hashlib.sha256(INT8_MODEL.read_bytes()).hexdigest()
    assert manifest["source_sha256"] == WEIGHTS_SHA256 and manifest["recipe"] == m8.RECIPE
    calibration = manifest["calibration"]
    assert len(calibration["dev_image_ids"]) == 25 and len(calibration["annotations_sha256"]) == 64
    errors, bars, accuracy = manifest["check"], manifest["bars"], manifest["accuracy"]
    assert accuracy["dev_images"] == 200 and accuracy["max_ap_drop"] == 0.01
    assert accuracy["passed"] == (accuracy["int8_ap"] >= accuracy["float32_ap"] - 0.01)
    assert manifest["passed_check"] == (errors["heatmap_mae"] <= bars["heatmap_mae"]
                                        and errors["paf_mae"] <= bars["paf_mae"]
                                        and accuracy["passed"])
    training = manifest["fine_tuning"]
    assert training["steps"] > 0 and 0 < training["learning_rate"] < 1
    assert len(set(training["dev_image_ids"])) == len(training["dev_image_ids"]) > 0


def test_fine_tuning_never_saw_the_images_of_the_ap_check() -> None:
    annotations = ROOT.parent / "shared" / "eval" / "coco_val2017_dev" / "person_keypoints.json"
    if not annotations.is_file():
        pytest.skip("the dev set is not beside the project")
    manifest = json.loads(INT8_MODEL.with_name(INT8_MODEL.name + ".json").read_text())
    checked = sorted(im["id"] for im in json.loads(annotations.read_text())["images"])
    checked = set(checked[:manifest["accuracy"]["dev_images"]])
    trained = set(manifest["fine_tuning"]["dev_image_ids"])
    assert trained and not trained & checked


def test_stage_tails_and_early_backbone_are_float_and_the_rest_int8() -> None:
    from ai_edge_litert.interpreter import Interpreter

    kinds = {}
    for detail in Interpreter(model_path=str(INT8_MODEL)).get_tensor_details():
        kinds.setdefault(detail["name"].split(";")[0], set()).add(detail["dtype"].__name__)
    tails = [n for n in kinds if "_Stage" in n and any(f"_L1_{k}_" in n or f"_L2_{k}_" in n
                                                       for k in (2, 3, 4))]
    assert len(tails) == 6 * 2 * 5  # layers 2, 3 (depthwise and pointwise) and 4 of each branch
    assert all("float32" in kinds[n] for n in tails)
    heads = [n for n in kinds if (n.startswith("Openpose/") and n.endswith("_1_pointwise/Relu"))
             or n == "MobilenetV1/Conv2d_11_pointwise/Relu"]
    assert len(heads) == 6 * 2 + 1 and all("int8" in kinds[n] for n in heads)
    early = [f"MobilenetV1/Conv2d_{k}_{kind}" for k in range(1, 5)
             for kind in ("depthwise/depthwise", "pointwise/Relu")]
    assert all("float32" in kinds[n] for n in early)  # (Conv2d_3's output also int8: the pool)
    later = ["MobilenetV1/Conv2d_0/Relu", "MobilenetV1/Conv2d_5_depthwise/depthwise",
             "MobilenetV1/Conv2d_5_pointwise/Relu"]
    assert all("int8" in kinds[n] for n in later)


def test_dev_calibration_batches_sizes_and_mirror() -> None:
    from tools.int8 import build as m8

    batches = m8.dev_calibration_batches(IMAGES, sides=(96, 64))
    assert len(batches) == 3 * len(IMAGES)  # 96, its mirror, 64
    for batch in batches:
        assert batch.dtype == np.float32 and batch.shape[0] == 1
        assert batch.shape[1] % 8 == 0 and batch.shape[2] % 8 == 0
    assert max(batches[0].shape[1:3]) == 96 and max(batches[2].shape[1:3]) == 64
    np.testing.assert_array_equal(batches[1][0], batches[0][0][:, ::-1])


def test_int8_runtime_is_mobilenet_only() -> None:
    # a missing int8 model: tests/test_runtime.py::test_missing_conversion_names_file_and_command
    from posekit.networks.inference import load_network

    with pytest.raises(ValueError, match="int8 runtime exists only for mobilenet_thin"):
        load_network("vgg", runtime="int8")


def test_accurate_network_keeps_the_infer_contract() -> None:
    import cv2

    from posekit.networks.inference import accurate_network, infer, infer_multiscale, load_network

    image = cv2.resize(cv2.imread(str(IMAGES[0])), (203, 270))  # not a multiple of 8
    base = load_network(runtime="tflite", num_threads=1)
    accurate = accurate_network(base, scales=(1.0, 0.5), flip=True)
    assert accurate.runtime == "tflite" and accurate.name == "mobilenet_thin+accurate"
    heatmaps, pafs = infer(accurate, image)
    plain = infer(base, image)
    assert heatmaps.shape == plain[0].shape and pafs.shape == plain[1].shape
    # same maps as the multi-scale path on the 8-px padded image, cropped
    padded = np.full((272, 208, 3), 128, np.uint8)
    padded[:270, :203] = image
    fused = infer_multiscale(base, padded, (1.0, 0.5), True, 1.0)
    np.testing.assert_allclose(heatmaps, fused[0][:34, :26], atol=1e-5)
    single = accurate_network(base, scales=(1.0,), flip=False)
    np.testing.assert_allclose(infer(single, image)[0], plain[0], atol=1e-4)
    with pytest.raises(ValueError, match="scales"):
        accurate_network(base, scales=())


def test_demo_runs_accurate_on_the_float_model(tmp_path: Path) -> None:
    import cv2

    import demo_image

    small = tmp_path / "small.jpg"
    cv2.imwrite(str(small), cv2.resize(cv2.imread(str(IMAGES[0])), (203, 270)))
    plain, accurate = tmp_path / "plain.json", tmp_path / "accurate.json"
    for out, extra in ((plain, []), (accurate, ["--accurate"])):
        status = demo_image.main([str(small), "-o", str(tmp_path / "o.png"), "--json", str(out),
                                  "--runtime", "tflite", "-q", *extra])
        assert status == 0
    assert json.loads(accurate.read_text()) != json.loads(plain.read_text())


def test_demo_runs_int8_accurate(tmp_path: Path) -> None:
    import cv2

    import demo_image

    small = tmp_path / "small.jpg"
    cv2.imwrite(str(small), cv2.resize(cv2.imread(str(IMAGES[1])), (320, 180)))
    out, people = tmp_path / "out.png", tmp_path / "people.json"
    status = demo_image.main([str(small), "-o", str(out), "--json", str(people),
                              "--runtime", "int8", "--accurate", "-q"])
    assert status == 0 and out.is_file()
    assert isinstance(json.loads(people.read_text()), list)
    from posekit.apps.demo import build_parser

    parser = build_parser()
    assert parser.parse_args(["--runtime", "int8"]).runtime == "int8"
    assert parser.parse_args([]).accurate is False


def test_write_int8_refuses_undescribed_inputs_before_any_work(tmp_path: Path) -> None:
    from tools.int8 import build as m8

    batch = [np.zeros((1, 8, 8, 3), np.float32)]
    with pytest.raises(ValueError, match="calibration must describe"):
        m8.write_int8(WEIGHTS, tmp_path / "m.int8.tflite", batches=batch)
    with pytest.raises(ValueError, match="training must describe"):
        m8.write_int8(WEIGHTS, tmp_path / "m.int8.tflite", batches=batch, calibration={},
                      train_images=[IMAGES[0]])
    assert list(tmp_path.iterdir()) == []


def test_is_current_requires_the_recipe(tmp_path: Path) -> None:
    import hashlib

    from tools.int8 import build as m8
    from posekit.networks import mobilenet_tflite as mtl

    model = tmp_path / "graph_opt.int8.tflite"
    model.write_bytes(b"model bytes")
    manifest = {"format": mtl.MANIFEST_FORMAT, "source_sha256": "ab" * 32,
                "tflite_sha256": hashlib.sha256(b"model bytes").hexdigest()}
    for recipe, expected in ((None, False), (2, False), (3, False), (4, False), ("plain", False),
                             (m8.UNTRAINED_RECIPE, True), (m8.RECIPE, True)):
        mtl.manifest_path(model).write_text(json.dumps({**manifest, "recipe": recipe}))
        assert m8.is_current(model, "ab" * 32) is expected
    assert not m8.is_current(model, "cd" * 32)  # made from another graph


def _weight_dtypes(model: bytes) -> set:
    """dtypes of the 4-D constant tensors (convolution weights) of a TFLite model."""
    import warnings

    from posekit.networks.mobilenet_tflite import interpreter_class

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        interpreter = interpreter_class()(model_content=model)
    return {np.dtype(t["dtype"]) for t in interpreter.get_tensor_details()
            if len(t["shape"]) == 4 and t["shape"][0] > 1 and t["shape"][-1] != 57}


def test_plain_quantization_leaves_no_float_convolution(small_batches) -> None:
    """``rewrite=False, float_nodes=(), correct=False`` (the benchmark's ``--plain``) is all int8;
    the recipe keeps its output convolutions float."""
    from tools.int8 import build as m8

    batches = small_batches[:2]
    plain, reference = m8.convert_int8(WEIGHTS, batches=batches, float_nodes=(),
                                       correct=False, rewrite=False)
    ours, _ = m8.convert_int8(WEIGHTS, batches=batches, correct=False)
    assert _weight_dtypes(plain) == {np.dtype(np.int8)}
    assert _weight_dtypes(ours) == {np.dtype(np.int8), np.dtype(np.float32)}
    assert _weight_dtypes(reference) == {np.dtype(np.float32)}
