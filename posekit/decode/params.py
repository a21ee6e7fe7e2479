"""The best decoder's parameters: frozen, validated thresholds, and its person scores by name."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Dict

import numpy as np

from posekit.lab.config import NUM_PARTS
from posekit.lab.limits import MAX_LIMB_SAMPLES, MAX_SMOOTH_SIGMA
from posekit.decode.refine import REFINERS
from posekit.decode.rescore import default_rescorer


#: Person scores by name: ``(features (K, F), heuristic (K,)) -> (K,)`` scores.
PERSON_SCORES: Dict[str, Callable[[np.ndarray, np.ndarray], np.ndarray]] = {
    "heuristic": lambda features, heuristic: heuristic,
    "learned": lambda features, heuristic: default_rescorer()(features),
    "combined": lambda features, heuristic: heuristic * default_rescorer()(features),
}


@dataclass(frozen=True)
class DecoderParams:
    """Thresholds of the best decoder (defaults tuned on the COCO dev set).

    Validated at construction (:meth:`__post_init__`): every field has a range.
    """

    # Peak must exceed this heatmap value; dev-set sweep (CMU: 0.1).
    peak_threshold: float = 0.03
    # Gaussian smoothing of heatmaps before peaks, in cells; dev-set sweep (0.5: -0.003 AP).
    smooth_sigma: float = 0.0
    # Sub-cell refinement by a parabola fit (+0.11 AP on the dev set).
    refine_peaks: bool = True
    # How (a key of posekit.decode.refine.REFINERS) and on which smoothing of the
    # raw heatmaps, in cells (0: the peak map itself); dev-set comparison in
    # docs/records/accuracy_decoder.md.
    refinement: str = "taylor"
    refine_sigma: float = 0.0
    # Join two fragments of one person (posekit.decode.fragments); zidane.jpg and dev set.
    join_fragments: bool = True
    # Samples along a candidate limb; CMU / lightweight-openpose use 10.
    limb_samples: int = 10
    # Minimum PAF projection for a sample to support a limb; dev-set sweep (CMU: 0.05).
    min_paf_score: float = 0.02
    # Fraction of samples that must support a limb; dev-set sweep (CMU: 0.8).
    min_support_ratio: float = 0.7
    # Relaxed thresholds for limbs that may only attach parts to existing
    # people (never start one); dev-set sweep, and looser ones drew limbs
    # across people on bus.jpg.
    attach_min_paf_score: float = 0.05
    attach_min_support_ratio: float = 0.5
    # Limbs longer than this fraction of the map height are penalised; CMU's 0.5.
    max_limb_fraction: float = 0.5
    # A person needs at least this many parts: the lab's 4 (dev-set AP 0.329;
    # 3 gives 0.330 but reports stray arm and leg fragments as people).
    min_parts: int = 4
    # ... and at least this mean peak score per part; dev-set sweep.
    min_mean_score: float = 0.1
    # ... and at least this heuristic score (see assemble); dev-set sweep: 1.5 keeps
    # AP and drops 10 % of the people found (the face-like blob on zidane.jpg: 1.14).
    min_person_score: float = 1.5
    # How people are ranked (a key of PERSON_SCORES): "learned" predicts each
    # person's OKS (posekit.decode.rescore); "heuristic" is the hand-made score;
    # "combined" their product (dev set, out of fold, people completed: 0.3617 /
    # 0.3576 / 0.3578 AP; before completion 0.3332 / 0.3271 / 0.3315).
    person_score: str = "combined"
    # Guess a position for every slot a person lacks (posekit.decode.completion). Off by
    # default: drawings, JSON and tracks show what the network found (guesses moved ids
    # on a tracked pan); the evaluation command turns it on, as COCO's OKS rewards
    # guesses: dev 0.334 -> 0.362 AP (benchmarks/bench_completion.py, docs/records/accuracy_decoder.md).
    complete_people: bool = False
    # Limbs implausible for their person are cut (posekit.decode.plausible); off values
    # inf, 0, -inf, 0. Tuned on dev half A, checked on B (docs/records/accuracy_limbs.md).
    # Longer than this many times what the person's other limbs predict: off (inf) by
    # default: 2.8 gave A AP +0.0006 scale-aware / +0.0015 accurate, B +0.0016 / +0.0017
    # (within a split's noise) for B APl -0.003 and 8.5 % more post-processing.
    limb_max_length_ratio: float = float("inf")
    # Shorter than this: every value tried lost AP on A (0.2: -0.0002, 0.4: -0.0073).
    limb_min_length_ratio: float = 0.0
    # Lowest PAF sample below this: A AP +0.0001 at 0, -0.0006 at 0.05; left off.
    limb_min_paf: float = float("-inf")
    # An end within this many expected lengths of a neighbour's same or mirrored keypoint
    # whose limb there is stronger (zidane.jpg's case): A AP -0.0026 at 0.2; left off.
    limb_near: float = 0.0

    def __post_init__(self) -> None:
        """Refuse values that would silently decode nothing or take unbounded work.

        Raises:
            ValueError: naming the first field out of its range (NaN included).
        """
        real = {  # field: (low, high), both inclusive
            "peak_threshold": (0.0, 1.0), "smooth_sigma": (0.0, MAX_SMOOTH_SIGMA),
            "min_paf_score": (-1.0, 1.0), "min_support_ratio": (0.0, 1.0),
            "attach_min_paf_score": (-1.0, 1.0), "attach_min_support_ratio": (0.0, 1.0),
            "max_limb_fraction": (1e-3, 1e3), "min_mean_score": (0.0, 1e3),
            "refine_sigma": (0.0, MAX_SMOOTH_SIGMA), "min_person_score": (0.0, 1e6),
            "limb_max_length_ratio": (0.0, float("inf")),
            "limb_min_length_ratio": (0.0, float("inf")),
            "limb_min_paf": (float("-inf"), 1.0), "limb_near": (0.0, 10.0)}
        for name, (low, high) in real.items():
            value = getattr(self, name)
            if isinstance(value, (bool, np.bool_)) or not isinstance(
                    value, (int, float, np.integer, np.floating)) or not low <= value <= high:
                raise ValueError(f"DecoderParams.{name} must be a number in [{low}, {high}], "
                                 f"got {value!r}")
        integer = {"limb_samples": (2, MAX_LIMB_SAMPLES), "min_parts": (1, NUM_PARTS)}
        for name, (low, high) in integer.items():
            value = getattr(self, name)
            if isinstance(value, (bool, np.bool_)) or not isinstance(
                    value, (int, np.integer)) or not low <= value <= high:
                raise ValueError(f"DecoderParams.{name} must be an integer in [{low}, {high}], "
                                 f"got {value!r}")
        if self.refinement not in REFINERS:
            raise ValueError(f"DecoderParams.refinement must be one of {sorted(REFINERS)}, "
                             f"got {self.refinement!r}")
        if self.person_score not in PERSON_SCORES:
            raise ValueError(f"DecoderParams.person_score must be one of "
                             f"{sorted(PERSON_SCORES)}, got {self.person_score!r}")
        for name in ("refine_peaks", "join_fragments", "complete_people"):
            if not isinstance(getattr(self, name), (bool, np.bool_)):
                raise ValueError(f"DecoderParams.{name} must be a bool, got "
                                 f"{getattr(self, name)!r}")

    @property
    def limb_rule(self) -> Dict[str, float]:
        """The limb check's thresholds (``posekit.decode.plausible.implausible``'s arguments)."""
        return {"max_length_ratio": self.limb_max_length_ratio,
                "min_length_ratio": self.limb_min_length_ratio,
                "min_paf": self.limb_min_paf, "near": self.limb_near}

    @property
    def checks_limbs(self) -> bool:
        """Whether any limb check is on (a threshold not at its off value)."""
        return (self.limb_max_length_ratio < float("inf") or self.limb_min_length_ratio > 0
                or self.limb_min_paf > float("-inf") or self.limb_near > 0)
