"""The lab's VGG checkpoint, replicated for tests (format and values from ``tests/data/compat``).

``shared/compat/README.md`` describes the checkpoint the lab ships (its 184
keys, shapes and object graph) and a deterministic weight recipe whose outputs
the original tf_netbuilder model produced (``vgg_golden.npz``). TensorFlow is
imported only when a checkpoint is written.
"""

from __future__ import annotations

import ast
import zlib
from pathlib import Path

import numpy as np

COMPAT_DIR = Path(__file__).parent / "data" / "compat"
OBJECT_GRAPH_KEY = "_CHECKPOINTABLE_OBJECT_GRAPH"
PAF_CHANNELS = 38
HEATMAP_CHANNELS = 19


def read_variable_list() -> dict[str, tuple[int, ...]]:
    """Checkpoint key -> shape, from ``vgg_checkpoint_variables.txt`` (184 entries)."""
    variables: dict[str, tuple[int, ...]] = {}
    for line in (COMPAT_DIR / "vgg_checkpoint_variables.txt").read_text().splitlines():
        if line.strip():
            key, shape = line.split("\t")
            variables[key] = tuple(ast.literal_eval(shape))
    return variables


VARIABLES = read_variable_list()


def deterministic_value(key: str, shape: tuple[int, ...]) -> np.ndarray:
    """The compat README's deterministic float32 value for one variable."""
    value = np.random.default_rng(zlib.crc32(key.encode())).standard_normal(shape)
    if key.split("/")[-3] == "kernel":
        value *= np.sqrt(2.0 / np.prod(shape[:-1]))
    else:
        value *= 0.01
    return value.astype(np.float32)


def write_checkpoint(prefix: Path, tensors: dict[str, np.ndarray]) -> None:
    """Write ``tensors`` plus the lab's object graph as a TF checkpoint at ``prefix``."""
    import tensorflow as tf

    names = [OBJECT_GRAPH_KEY, *tensors]
    values = [tf.constant((COMPAT_DIR / "vgg_object_graph.pb").read_bytes())]
    values += [tf.constant(v) for v in tensors.values()]
    tf.raw_ops.SaveV2(
        prefix=str(prefix),
        tensor_names=names,
        shape_and_slices=[""] * len(names),
        tensors=values,
    )




def write_replica(prefix: Path) -> None:
    """Write the replica of the lab checkpoint (deterministic weights) at ``prefix``."""
    write_checkpoint(prefix, {k: deterministic_value(k, s) for k, s in VARIABLES.items()})
