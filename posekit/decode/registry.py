"""The decoder registry: every way of turning maps into people, by name, behind one protocol.

A decoder is a function ``(heatmaps (H, W, 19), pafs (H, W, 38), params,
config, timings) -> (coords, skeletons (K, 20))`` whose ``params`` is an
instance of a frozen dataclass (its defaults are the decoder's defaults). The
command-line tools, the batch runner, the evaluation and ``PoseEstimator``
all read :data:`DECODERS`; a new decoder is one :func:`register_decoder`
call, from any package::

    register_decoder("mine", my_decode, MyParams, {"peak_threshold": "peak"})
"""

from __future__ import annotations

import dataclasses
import logging
from dataclasses import dataclass
from typing import Any, Dict, List, Mapping, Optional, Protocol, Tuple

import numpy as np

from posekit.lab.config import PoseConfig
from posekit.decode.decoder import decode
from posekit.decode.params import DecoderParams
from posekit.decode.types import Coords
from posekit.registry import Registry
from posekit.lab.lab_decoders import HandoutParams, LabParams, handout_registered, lab_registered

logger = logging.getLogger(__name__)


#: The thresholds every tool exposes as flags (``--peak-threshold`` ...); a
#: decoder maps the ones it has onto fields of its parameters.
THRESHOLD_NAMES = ("peak_threshold", "paf_threshold", "min_parts", "min_score")


class Decoder(Protocol):
    """What a registered decoder function is: maps and typed parameters in, people out."""

    def __call__(self, heatmaps: np.ndarray, pafs: np.ndarray, params: Any,
                 config: Optional[PoseConfig] = None,
                 timings: Optional[Dict[str, float]] = None) -> Tuple[Coords, np.ndarray]:
        """Decode one image's maps.

        Args:
            heatmaps: (H, W, 19) float32 heatmaps.
            pafs: (H, W, 38) float32 PAFs.
            params: the decoder's frozen parameters.
            config: pose configuration (None: COCO-18).
            timings: if given, receives seconds per stage (``"peaks"``, ...).

        Returns:
            ``coords`` ({part name: [(x, y, score, id)]}, cells) and
            ``skeletons`` (K, 20) rows: 18 peak ids (-1 empty), score, parts.
        """


@dataclass(frozen=True)
class DecoderEntry:
    """One registered decoder.

    Attributes:
        name: its registry key (``--decoder NAME``).
        decode: the :class:`Decoder` function.
        params: its frozen dataclass of parameters; ``params()`` holds the defaults.
        thresholds: common threshold name (:data:`THRESHOLD_NAMES`) -> field of ``params``.
        help: one line for ``--help``.
    """

    name: str
    decode: Decoder
    params: type
    thresholds: Mapping[str, str]
    help: str = ""

    def __call__(self, heatmaps: np.ndarray, pafs: np.ndarray, params: Any = None,
                 config: Optional[PoseConfig] = None,
                 timings: Optional[Dict[str, float]] = None) -> Tuple[Coords, np.ndarray]:
        """Decode with ``params`` (None: the defaults); see :class:`Decoder`."""
        return self.decode(heatmaps, pafs, self.params() if params is None else params,
                           config, timings)

    def defaults(self) -> Dict[str, Any]:
        """Default value of each common threshold this decoder has, by threshold name."""
        params = self.params()
        return {name: getattr(params, field) for name, field in self.thresholds.items()}

    def make_params(self, overrides: Optional[Mapping[str, Any]] = None,
                    **fields: Any) -> Any:
        """Parameters from common-threshold overrides and field values.

        Args:
            overrides: threshold name -> value; None values keep the default.
            **fields: fields of :attr:`params` set directly.

        Returns:
            A validated instance of :attr:`params`.

        Raises:
            ValueError: ``overrides`` not a mapping, an unknown threshold name,
                a threshold this decoder lacks, an unknown field, or a value the
                parameters refuse.
        """
        if overrides is not None and not isinstance(overrides, Mapping):
            raise ValueError("thresholds must be a mapping of threshold name to value (e.g. "
                             f"{{'peak_threshold': 0.1}}) or None, got {type(overrides).__name__}")
        given = {k: v for k, v in (overrides or {}).items() if v is not None}
        unknown = [k for k in (overrides or {}) if k not in THRESHOLD_NAMES]
        if unknown:
            raise ValueError(f"thresholds: unknown key {unknown[0]!r}; valid keys: "
                             f"{', '.join(THRESHOLD_NAMES)}")
        lacking = [k for k in given if k not in self.thresholds]
        if lacking:
            raise ValueError(f"thresholds: decoder {self.name!r} has no {lacking[0]!r}")
        names = {f.name for f in dataclasses.fields(self.params)}
        bad = [k for k in fields if k not in names]
        if bad:
            raise ValueError(f"{self.params.__name__} has no field {bad[0]!r}")
        values = {self.thresholds[k]: v for k, v in given.items()}
        values.update(fields)
        return self.params(**values)


#: Every decoder by name, in registration order.
DECODERS: Registry[DecoderEntry] = Registry("decoder")


def register_decoder(name: str, decode_fn: Decoder, params: type,
                     thresholds: Mapping[str, str], help: str = "",
                     replace: bool = False) -> DecoderEntry:
    """Add a decoder to :data:`DECODERS`.

    Args:
        name: registry key (a non-empty string).
        decode_fn: the :class:`Decoder` function.
        params: a frozen dataclass whose defaults construct (``params()``).
        thresholds: common threshold name -> field of ``params``.
        help: one line for ``--help``.
        replace: allow replacing an entry of the same name.

    Returns:
        The new entry.

    Raises:
        ValueError: an empty or taken name, ``decode_fn`` not callable,
            ``params`` not a frozen dataclass whose defaults construct,
            ``thresholds`` not a mapping, a threshold name or field that does
            not exist, ``help`` not a string or ``replace`` not a bool (each
            message names the argument; nothing is registered).
    """
    if not isinstance(replace, bool):
        raise ValueError(f"replace must be True or False, got {replace!r}")
    DECODERS.check_name(name, replace)
    if not callable(decode_fn):
        raise ValueError(f"decode_fn must be a callable Decoder, got {decode_fn!r}")
    if not (dataclasses.is_dataclass(params) and isinstance(params, type)
            and params.__dataclass_params__.frozen):
        raise ValueError(f"params must be a frozen dataclass, got {params!r}")
    try:
        params()
    except Exception as exc:  # noqa: BLE001 - any failure means no defaults to start from
        raise ValueError(f"params: {params.__name__}() must construct with its defaults "
                         f"({type(exc).__name__}: {exc})") from None
    if not isinstance(thresholds, Mapping):
        raise ValueError("thresholds must be a mapping of threshold name to field of params, "
                         f"got {type(thresholds).__name__}")
    if not isinstance(help, str):
        raise ValueError(f"help must be a string, got {type(help).__name__}")
    fields = {f.name for f in dataclasses.fields(params)}
    for key, field in thresholds.items():
        if key not in THRESHOLD_NAMES:
            raise ValueError(f"thresholds: unknown key {key!r}; valid keys: "
                             f"{', '.join(THRESHOLD_NAMES)}")
        if field not in fields:
            raise ValueError(f"thresholds: {params.__name__} has no field {field!r}")
    entry = DecoderEntry(name, decode_fn, params, dict(thresholds), help)
    return DECODERS.add(name, entry, replace)


def get_decoder(name: str) -> DecoderEntry:
    """The registered decoder ``name``.

    Raises:
        ValueError: no decoder of that name (the message lists the names).
    """
    return DECODERS.lookup(name)


def _best(heatmaps: np.ndarray, pafs: np.ndarray, params: DecoderParams,
          config: Optional[PoseConfig] = None,
          timings: Optional[Dict[str, float]] = None) -> Tuple[Coords, np.ndarray]:
    """``posekit.decode.decoder.decode`` behind the protocol."""
    return decode(heatmaps, pafs, params, config, timings)


_LAB_THRESHOLDS = {"peak_threshold": "peak_threshold", "paf_threshold": "min_paf_score",
                   "min_parts": "min_num_body_parts", "min_score": "min_score"}
register_decoder("best", _best, DecoderParams,
                 {"peak_threshold": "peak_threshold", "paf_threshold": "min_paf_score",
                  "min_parts": "min_parts", "min_score": "min_mean_score"},
                 "the project's decoder (posekit.decode.decoder)")
register_decoder("lab", lab_registered, LabParams, _LAB_THRESHOLDS,
                 "the lab's stages: get_coordinates, get_connections, estimate")
register_decoder("handout", handout_registered, HandoutParams, _LAB_THRESHOLDS,
                 "the handout's kit as printed, with our merge")
