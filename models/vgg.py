"""Two-branch VGG OpenPose network (CMU 2017 layout) in plain Keras.

This module builds the network used by the lab's demo and loads the lab's
TensorFlow checkpoint (``model_weights/openpose.index`` +
``model_weights/openpose.data-00000-of-00001``) into it. The checkpoint was
written by a model built with ``tf_netbuilder``; this module recreates the
same computation with plain Keras layers and maps every checkpoint key onto a
Keras variable, so ``tf_netbuilder`` is not needed.

Architecture (derived from the checkpoint's 184 variable keys and shapes):

* Input: RGB image batch, shape ``(N, H, W, 3)``, values 0..255 (uint8 or
  float), normalised inside the model as ``x / 256 - 0.5``.
* Backbone ``net/backbone``: the first 10 convolutions of VGG-19
  (``block1_conv1`` .. ``block4_conv2``; 3x3, ``same`` padding, ReLU) with
  three 2x2/stride-2 max-pools (``valid`` padding) after ``block1_conv2``,
  ``block2_conv2`` and ``block3_conv4``, followed by two reducing 3x3
  convolutions ``layer_13`` (512 -> 256) and ``layer_14`` (256 -> 128), ReLU.
  The unnamed layers are numbered by their position in the builder's layer
  list, which also counts the pools (indices 2, 5 and 10).
* Stage 0, two branches reading the 128-channel backbone features ``F``:
  ``stage_0_s`` (PAFs, 38 channels) and ``stage_0_l`` (heatmaps, 19
  channels), each ``layer_0..2`` 3x3x128 ReLU, ``layer_3`` 1x1x512 ReLU,
  ``layer_4`` 1x1 linear output.
* Stages 1..5: both branches read ``concat([PAF_{t-1}, heatmap_{t-1}, F])``
  (38 + 19 + 128 = 185 channels), each ``layer_0..4`` 7x7x128 ReLU,
  ``layer_5`` 1x1x128 ReLU, ``layer_6`` 1x1 linear output.
* There are no PReLU / batch-norm parameters: only kernels and biases.

Outputs: a list of 12 tensors alternating PAF ``(N, H', W', 38)`` and heatmap
``(N, H', W', 19)`` for stages 0..5, where ``H' = floor(H / 8)`` and
``W' = floor(W / 8)`` (three ``valid`` 2x2 max-pools of stride 2). The demo
reads ``outputs[10]`` (last PAFs) and ``outputs[11]`` (last heatmaps).
"""

from __future__ import annotations

import glob
import os
from dataclasses import dataclass

import keras
import numpy as np
import tensorflow as tf

NUM_PAF_CHANNELS = 38
NUM_HEATMAP_CHANNELS = 19
NUM_STAGES = 6
OUTPUT_STRIDE = 8

_VARIABLE_SUFFIX = ".ATTRIBUTES/VARIABLE_VALUE"
_OBJECT_GRAPH_KEY = "_CHECKPOINTABLE_OBJECT_GRAPH"


@dataclass(frozen=True)
class _ConvSpec:
    """One convolution of the network.

    Attributes:
        scope: Checkpoint scope of the layer, e.g. ``"net/backbone/block1_conv1"``.
        kernel_size: Square kernel size.
        filters: Number of output channels.
        relu: Whether a ReLU follows the convolution.
    """

    scope: str
    kernel_size: int
    filters: int
    relu: bool = True

    @property
    def layer_name(self) -> str:
        """Keras layer name (Keras forbids ``/``), e.g. ``backbone_block1_conv1``."""
        return self.scope.removeprefix("net/").replace("/", "_")


_POOL = "maxpool"

# Backbone in execution order; ``_POOL`` marks a 2x2/stride-2 max-pool.
_BACKBONE: tuple[_ConvSpec | str, ...] = (
    _ConvSpec("net/backbone/block1_conv1", 3, 64),
    _ConvSpec("net/backbone/block1_conv2", 3, 64),
    _POOL,
    _ConvSpec("net/backbone/block2_conv1", 3, 128),
    _ConvSpec("net/backbone/block2_conv2", 3, 128),
    _POOL,
    _ConvSpec("net/backbone/block3_conv1", 3, 256),
    _ConvSpec("net/backbone/block3_conv2", 3, 256),
    _ConvSpec("net/backbone/block3_conv3", 3, 256),
    _ConvSpec("net/backbone/block3_conv4", 3, 256),
    _POOL,
    _ConvSpec("net/backbone/block4_conv1", 3, 512),
    _ConvSpec("net/backbone/block4_conv2", 3, 512),
    _ConvSpec("net/backbone/layer_13", 3, 256),
    _ConvSpec("net/backbone/layer_14", 3, 128),
)


def _branch_specs(stage: int, branch: str, out_channels: int) -> tuple[_ConvSpec, ...]:
    """Convolutions of one branch of one stage.

    Args:
        stage: Stage index, 0..5.
        branch: ``"s"`` for the PAF branch, ``"l"`` for the heatmap branch.
        out_channels: Channels of the branch output (38 or 19).

    Returns:
        The branch's convolutions in execution order.
    """
    scope = f"net/stage_{stage}_{branch}"
    if stage == 0:
        convs = [(3, 128)] * 3 + [(1, 512)]
    else:
        convs = [(7, 128)] * 5 + [(1, 128)]
    specs = [_ConvSpec(f"{scope}/layer_{i}", k, c) for i, (k, c) in enumerate(convs)]
    specs.append(_ConvSpec(f"{scope}/layer_{len(convs)}", 1, out_channels, relu=False))
    return tuple(specs)


def _all_conv_specs() -> tuple[_ConvSpec, ...]:
    """Every convolution of the network, backbone first, then stage by stage (PAF, heatmap)."""
    specs = [s for s in _BACKBONE if isinstance(s, _ConvSpec)]
    for stage in range(NUM_STAGES):
        specs += _branch_specs(stage, "s", NUM_PAF_CHANNELS)
        specs += _branch_specs(stage, "l", NUM_HEATMAP_CHANNELS)
    return tuple(specs)


def _conv(spec: _ConvSpec) -> keras.layers.Conv2D:
    """Keras layer for ``spec`` (stride 1, ``same`` padding)."""
    return keras.layers.Conv2D(
        filters=spec.filters,
        kernel_size=spec.kernel_size,
        padding="same",
        activation="relu" if spec.relu else None,
        name=spec.layer_name,
    )


def _build_graph() -> tuple[keras.KerasTensor, list[keras.KerasTensor]]:
    """Build the functional graph.

    Returns:
        ``(inputs, outputs)``: the ``(None, None, None, 3)`` image input and the 12
        outputs alternating PAF ``(None, None, None, 38)`` and heatmap
        ``(None, None, None, 19)`` for stages 0..5.
    """
    inputs = keras.Input(shape=(None, None, 3), name="rgb")
    # x / 256 - 0.5; 1/256 is exact in float32, so this equals the division.
    x = keras.layers.Rescaling(scale=1.0 / 256.0, offset=-0.5, name="normalize")(inputs)
    pool_index = 0
    for spec in _BACKBONE:
        if spec == _POOL:
            pool_index += 1
            x = keras.layers.MaxPooling2D(
                pool_size=2, strides=2, padding="valid", name=f"backbone_pool{pool_index}"
            )(x)
        else:
            x = _conv(spec)(x)
    features = x

    outputs: list[keras.KerasTensor] = []
    stage_input = features
    for stage in range(NUM_STAGES):
        branch_outputs = []
        for branch, channels in (("s", NUM_PAF_CHANNELS), ("l", NUM_HEATMAP_CHANNELS)):
            y = stage_input
            for spec in _branch_specs(stage, branch, channels):
                y = _conv(spec)(y)
            branch_outputs.append(y)
        outputs += branch_outputs
        if stage + 1 < NUM_STAGES:
            stage_input = keras.layers.Concatenate(axis=-1, name=f"stage_{stage}_out")(
                [*branch_outputs, features]
            )
    return inputs, outputs


class OpenPoseVGG(keras.Model):
    """Two-branch VGG OpenPose model that loads the lab's TF checkpoint.

    Call / ``predict`` input: RGB batch ``(N, H, W, 3)`` with values 0..255.
    Output: list of 12 arrays, ``[paf_0, heat_0, ..., paf_5, heat_5]`` with
    shapes ``(N, H // 8, W // 8, 38)`` and ``(N, H // 8, W // 8, 19)``.
    """

    def __init__(self, name: str = "openpose_vgg") -> None:
        inputs, outputs = _build_graph()
        super().__init__(inputs=inputs, outputs=outputs, name=name)

    def checkpoint_variables(self) -> dict[str, keras.Variable]:
        """Map every checkpoint key to the model variable it fills.

        Returns:
            Dict from key (e.g.
            ``"net/backbone/block1_conv1/kernel/.ATTRIBUTES/VARIABLE_VALUE"``)
            to the Keras variable; 184 entries covering all model weights.
        """
        mapping: dict[str, keras.Variable] = {}
        for spec in _all_conv_specs():
            layer = self.get_layer(spec.layer_name)
            mapping[f"{spec.scope}/kernel/{_VARIABLE_SUFFIX}"] = layer.kernel
            mapping[f"{spec.scope}/bias/{_VARIABLE_SUFFIX}"] = layer.bias
        return mapping

    def load_weights(self, filepath: str | os.PathLike[str], *args, **kwargs) -> None:
        """Load weights from the lab's TensorFlow checkpoint (strictly).

        Every one of the 184 variables must be present with the right shape,
        and the checkpoint must hold no other variables; nothing is assigned
        unless the whole checkpoint matches. Files in Keras' own formats
        (``*.weights.h5``, ``*.keras``) are passed on to Keras.

        Args:
            filepath: Checkpoint prefix, e.g. ``"./model_weights/openpose"``
                (the files ``openpose.index`` and
                ``openpose.data-00000-of-00001`` must exist), or a directory
                holding a ``checkpoint`` file.
            *args: Passed to Keras for Keras-format files only.
            **kwargs: Passed to Keras for Keras-format files only.

        Raises:
            FileNotFoundError: No checkpoint (index or data file) at ``filepath``.
            ValueError: The checkpoint cannot be read, lacks a key, has a
                variable of the wrong shape, or holds unexpected variables.
            RuntimeError: The model's key mapping misses some model weight
                (an internal error, not a checkpoint problem).
        """
        path = os.fspath(filepath)
        if path.endswith((".weights.h5", ".keras")):
            super().load_weights(path, *args, **kwargs)
            return
        prefix = _resolve_prefix(path)
        try:
            reader = tf.train.load_checkpoint(prefix)
            ckpt_shapes = reader.get_variable_to_shape_map()
        except (tf.errors.OpError, ValueError) as exc:
            raise ValueError(f"Cannot read TensorFlow checkpoint '{path}': {exc}") from exc

        targets = self.checkpoint_variables()
        if len(targets) != len(self.weights):  # guards the key mapping itself
            raise RuntimeError(
                f"Internal error: {len(targets)} checkpoint keys map onto a model "
                f"with {len(self.weights)} weights."
            )
        _check_matches(path, targets, ckpt_shapes)

        values: dict[str, np.ndarray] = {}
        try:
            for key in targets:
                values[key] = reader.get_tensor(key)
        except tf.errors.OpError as exc:
            raise ValueError(
                f"Cannot read variable {key!r} from checkpoint '{path}': {exc}"
            ) from exc
        for key, variable in targets.items():
            variable.assign(values[key].astype(variable.dtype, copy=False))


def _resolve_prefix(path: str) -> str:
    """Turn a user path into an existing checkpoint prefix.

    Args:
        path: Checkpoint prefix or directory with a ``checkpoint`` file.

    Returns:
        The prefix whose ``.index`` and ``.data-*`` files exist.

    Raises:
        FileNotFoundError: No checkpoint files found for ``path``.
    """
    prefix = path
    if os.path.isdir(path):
        latest = tf.train.latest_checkpoint(path)
        if latest is None:
            raise FileNotFoundError(
                f"No TensorFlow checkpoint in directory '{path}': expected a "
                "'checkpoint' file, or pass the checkpoint prefix itself "
                "(e.g. './model_weights/openpose')."
            )
        prefix = latest
    index = prefix + ".index"
    data = prefix + ".data-00000-of-00001"
    if not os.path.isfile(index):
        raise FileNotFoundError(
            f"No TensorFlow checkpoint at '{path}': expected the files "
            f"'{index}' and '{data}'."
        )
    if not glob.glob(glob.escape(prefix) + ".data-*-of-*"):
        raise FileNotFoundError(
            f"TensorFlow checkpoint at '{path}' is incomplete: '{index}' exists "
            f"but its data file '{data}' is missing."
        )
    return prefix


def _check_matches(
    path: str,
    targets: dict[str, keras.Variable],
    ckpt_shapes: dict[str, list[int]],
) -> None:
    """Check that the checkpoint holds exactly the model's variables.

    Args:
        path: Checkpoint path as given by the user (for messages).
        targets: Checkpoint key -> model variable.
        ckpt_shapes: Checkpoint key -> shape, as read from the checkpoint.

    Raises:
        ValueError: First missing key, first shape mismatch, or unexpected keys.
    """
    missing = [k for k in targets if k not in ckpt_shapes]
    if missing:
        raise ValueError(
            f"Checkpoint '{path}' does not match the VGG OpenPose model: "
            f"missing key {missing[0]!r} ({len(missing)} of {len(targets)} keys missing)."
        )
    for key, variable in targets.items():
        expected = tuple(variable.shape)
        found = tuple(ckpt_shapes[key])
        if found != expected:
            raise ValueError(
                f"Checkpoint '{path}' does not match the VGG OpenPose model: "
                f"key {key!r} has shape {list(found)}, expected {list(expected)}."
            )
    extra = sorted(k for k in ckpt_shapes if k not in targets and k != _OBJECT_GRAPH_KEY)
    if extra:
        raise ValueError(
            f"Checkpoint '{path}' does not match the VGG OpenPose model: "
            f"unexpected key {extra[0]!r} ({len(extra)} unexpected keys)."
        )


def create_openpose() -> OpenPoseVGG:
    """Build the two-branch VGG OpenPose model (weights randomly initialised).

    Load the lab's weights with ``model.load_weights("./model_weights/openpose")``.

    Returns:
        The model. Input ``(N, H, W, 3)`` RGB, 0..255; ``predict`` returns 12
        arrays alternating PAFs ``(N, H // 8, W // 8, 38)`` and heatmaps
        ``(N, H // 8, W // 8, 19)`` for stages 0..5.
    """
    return OpenPoseVGG()
