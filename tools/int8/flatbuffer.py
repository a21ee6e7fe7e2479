"""Reads a TFLite model into editable objects and writes it back (ai-edge-litert's schema).

The int8 build edits converted models in place: bias correction
(``tools.int8.bias``), the fine-tuned weights (``tools.int8.qat``) and the
dropped requantizations (``tools.int8.tidy``) all go through these three
functions.
"""

from __future__ import annotations

from typing import Any


def read_model(data: bytes) -> Any:
    """The ``schema.ModelT`` object tree of a ``.tflite`` content.

    Raises:
        ValueError: ``data`` is not a TFLite model.
    """
    from ai_edge_litert import schema_py_generated as schema

    try:
        return schema.ModelT.InitFromPackedBuf(bytearray(data), 0)
    except Exception as error:  # flatbuffers raises whatever the bytes trip on
        raise ValueError(f"data is not a TFLite model: {error}") from None


def write_model(model: Any) -> bytes:
    """The ``.tflite`` content of a ``schema.ModelT`` (file identifier ``TFL3``)."""
    import flatbuffers

    builder = flatbuffers.Builder(1 << 22)
    builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    return bytes(builder.Output())


def op_names(model: Any) -> list[str]:
    """The builtin operator name (``"CONV_2D"``, ...) of every operator of the first subgraph."""
    from ai_edge_litert import schema_py_generated as schema

    names = {value: key for key, value in vars(schema.BuiltinOperator).items()
             if not key.startswith("_")}
    codes = [names[max(code.builtinCode, code.deprecatedBuiltinCode)]
             for code in model.operatorCodes]
    return [codes[op.opcodeIndex] for op in model.subgraphs[0].operators]
