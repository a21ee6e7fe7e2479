"""Tests for models/vgg.py: architecture, strict TF-checkpoint loading, golden outputs.

The golden check writes a replica of the lab's checkpoint (format and
deterministic values described in ``tests/data/compat``, copied from
``shared/compat/README.md``) and compares the model's 12 outputs with the
outputs of the original tf_netbuilder model for the same weights.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import numpy as np
import pytest

tf = pytest.importorskip("tensorflow")

from models.vgg import OUTPUT_STRIDE, create_openpose  # noqa: E402

from replica_checkpoint import (  # noqa: E402
    COMPAT_DIR, HEATMAP_CHANNELS, PAF_CHANNELS, VARIABLES, write_checkpoint)


def _zeros_checkpoint(
    prefix: Path,
    drop: str | None = None,
    reshape: dict[str, tuple[int, ...]] | None = None,
    extra: dict[str, tuple[int, ...]] | None = None,
) -> None:
    """Write an all-zero checkpoint with the lab's keys, optionally altered.

    Args:
        prefix: Checkpoint prefix to write.
        drop: Key to leave out.
        reshape: Key -> replacement shape.
        extra: Additional key -> shape.
    """
    shapes = {k: s for k, s in VARIABLES.items() if k != drop}
    shapes.update(reshape or {})
    shapes.update(extra or {})
    write_checkpoint(prefix, {k: np.zeros(s, np.float32) for k, s in shapes.items()})


@pytest.fixture(scope="module")
def model():
    """One model shared by the module (building it takes about 2 s)."""
    return create_openpose()


def _snapshot(model) -> list[np.ndarray]:
    return [w.numpy() for w in model.weights[:2] + model.weights[-2:]]


def test_golden_outputs_match_original_model(model, replica_prefix: Path) -> None:
    prefix = replica_prefix                      # the deterministic values of every variable
    assert prefix.with_name("openpose.index").is_file()
    assert prefix.with_name("openpose.data-00000-of-00001").is_file()

    model.load_weights(str(prefix))

    golden = np.load(COMPAT_DIR / "vgg_golden.npz")
    rgb = golden["input_rgb"]
    assert rgb.shape == (1, 96, 128, 3) and rgb.dtype == np.uint8
    outputs = model.predict(rgb, verbose=0)
    assert isinstance(outputs, list) and len(outputs) == 12
    for i, output in enumerate(outputs):
        channels = PAF_CHANNELS if i % 2 == 0 else HEATMAP_CHANNELS
        assert output.shape == (1, 12, 16, channels), i
        # Not bit-exact: float32 summation order differs (max 4.8e-6 measured, 2-core AMD
        # EPYC Zen 4); README states the 2e-5 used here.
        np.testing.assert_allclose(output, golden[f"output_{i}"], rtol=0, atol=2e-5,
                                   err_msg=f"output_{i}")


def test_checkpoint_mapping_covers_all_keys_and_weights(model) -> None:
    mapping = model.checkpoint_variables()
    assert len(VARIABLES) == 184
    assert {k: tuple(v.shape) for k, v in mapping.items()} == VARIABLES
    assert {id(v) for v in mapping.values()} == {id(w) for w in model.weights}


def test_load_weights_accepts_pathlike(model, tmp_path: Path) -> None:
    _zeros_checkpoint(tmp_path / "ck")
    model.load_weights(tmp_path / "ck")
    assert all(not np.any(w.numpy()) for w in model.weights)


def test_missing_checkpoint_raises_file_not_found(model, tmp_path: Path) -> None:
    prefix = str(tmp_path / "model_weights" / "openpose")
    with pytest.raises(FileNotFoundError) as info:
        model.load_weights(prefix)
    assert prefix in str(info.value)
    assert "openpose.index" in str(info.value)
    assert "openpose.data-00000-of-00001" in str(info.value)


def test_directory_without_checkpoint_raises_file_not_found(model, tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match=re.escape(str(tmp_path))):
        model.load_weights(str(tmp_path))


def test_missing_data_file_raises_file_not_found(model, tmp_path: Path) -> None:
    prefix = tmp_path / "openpose"
    write_checkpoint(prefix, {"x": np.zeros(2, np.float32)})
    os.remove(str(prefix) + ".data-00000-of-00001")
    with pytest.raises(FileNotFoundError, match="data-00000-of-00001"):
        model.load_weights(str(prefix))


def test_corrupt_checkpoint_raises_value_error(model, tmp_path: Path) -> None:
    prefix = tmp_path / "openpose"
    Path(str(prefix) + ".index").write_bytes(b"not a checkpoint")
    Path(str(prefix) + ".data-00000-of-00001").write_bytes(b"")
    with pytest.raises(ValueError, match=re.escape(str(prefix))):
        model.load_weights(str(prefix))


def test_missing_key_raises_value_error_and_changes_nothing(model, tmp_path: Path) -> None:
    dropped = "net/stage_3_l/layer_2/kernel/.ATTRIBUTES/VARIABLE_VALUE"
    prefix = str(tmp_path / "ck")
    _zeros_checkpoint(tmp_path / "ck", drop=dropped)
    before = _snapshot(model)
    with pytest.raises(ValueError) as info:
        model.load_weights(prefix)
    assert dropped in str(info.value) and prefix in str(info.value)
    for old, new in zip(before, _snapshot(model)):
        np.testing.assert_array_equal(old, new)


def test_wrong_shape_raises_value_error(model, tmp_path: Path) -> None:
    # A heatmap-sized head in the PAF branch, as with swapped branches.
    key = "net/stage_5_s/layer_6/kernel/.ATTRIBUTES/VARIABLE_VALUE"
    _zeros_checkpoint(tmp_path / "ck", reshape={key: (1, 1, 128, 19)})
    with pytest.raises(ValueError) as info:
        model.load_weights(str(tmp_path / "ck"))
    message = str(info.value)
    assert key in message and "[1, 1, 128, 19]" in message and "[1, 1, 128, 38]" in message


def test_unexpected_key_raises_value_error(model, tmp_path: Path) -> None:
    extra = "net/stage_6_s/layer_0/bias/.ATTRIBUTES/VARIABLE_VALUE"
    _zeros_checkpoint(tmp_path / "ck", extra={extra: (128,)})
    with pytest.raises(ValueError, match=re.escape(extra)):
        model.load_weights(str(tmp_path / "ck"))


@pytest.mark.parametrize(
    ("height", "width"),
    [(8, 8), (15, 17), (45, 70), (63, 100)],
)
def test_output_size_is_floor_of_input_over_8(model, height: int, width: int) -> None:
    # Three 2x2 / stride-2 'valid' max-pools: each halves with floor, so the
    # output grid is floor(H / 8) x floor(W / 8); trailing rows/columns that do
    # not fill a whole 8x8 cell are dropped.
    rgb = np.full((2, height, width, 3), 128, np.uint8)
    outputs = model(rgb, training=False)
    assert len(outputs) == 12
    expected_hw = (height // OUTPUT_STRIDE, width // OUTPUT_STRIDE)
    for i, output in enumerate(outputs):
        channels = PAF_CHANNELS if i % 2 == 0 else HEATMAP_CHANNELS
        assert tuple(output.shape) == (2, *expected_hw, channels), i


def test_predict_on_non_multiple_of_8_input(model) -> None:
    outputs = model.predict(np.zeros((1, 45, 70, 3), np.uint8), verbose=0)
    assert [o.shape for o in outputs[10:]] == [(1, 5, 8, 38), (1, 5, 8, 19)]
