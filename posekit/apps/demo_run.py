"""The state of one demo run: its arguments, estimator, progress bar and collected results."""

from __future__ import annotations

import argparse
import collections
import statistics
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Deque, Dict, List, Optional, Tuple

import numpy as np

from posekit.io import maps_view
from posekit.lab.config import PoseConfig

from posekit.io import images as imageio
from posekit.apps.command import CommandError, SignalGate
from posekit.pipeline import PoseEstimator
from posekit.results import PoseResult
from posekit.video.adaptive import FrameSizer

#: Stage times kept for the summary's medians.
KEPT_TIMINGS = 10_000


@dataclass
class Run:
    """What one invocation needs along the way.

    ``loader(run, folder)`` loads the network and creates the output folders
    (:meth:`load`); ``next_image_id`` is the COCO image id of the next video
    frame (a folder run's videos follow its images); with ``hold_json`` the
    ``--json`` file waits for the last input of a folder run (one document);
    ``gate.held()`` keeps Ctrl-C out of the writing of one image's or frame's outputs.
    """

    args: argparse.Namespace
    config: PoseConfig
    estimator: Optional[PoseEstimator] = None
    #: Stage times of the last :data:`KEPT_TIMINGS` images or frames (an endless live run
    #: keeps its memory bounded; the summary's medians are over these).
    timings: Deque[Dict[str, float]] = field(
        default_factory=lambda: collections.deque(maxlen=KEPT_TIMINGS))
    coco: List[dict] = field(default_factory=list)
    downscale_noted: bool = False
    progress: object = None
    prog: str = "posekit"
    loader: Optional[Callable[["Run", Optional[Path]], PoseEstimator]] = None
    next_image_id: int = 0
    hold_json: bool = False
    gate: SignalGate = field(default_factory=SignalGate)
    #: A live run's frame sizes (``posekit.video.adaptive``): frames at half size while
    #: every person in view is large; None: every frame at full size.
    sizer: Optional[FrameSizer] = None

    def load(self, out_folder: Optional[Path] = None) -> PoseEstimator:
        """The estimator, loaded by ``loader`` on the first call (which also creates
        ``out_folder``)."""
        if self.estimator is None:
            self.estimator = self.loader(self, out_folder)
        return self.estimator

    def scales(self) -> Tuple[float, ...]:
        """The input scales the network runs at per image: the accurate mode's, else 1."""
        if self.args.accurate:
            from posekit.networks.inference import ACCURATE_SCALES

            return tuple(ACCURATE_SCALES)
        return (1.0,)

    def say(self, text: str) -> None:
        """A line on stdout (not with --quiet), above the progress bar if one is shown;
        on stderr when a JSON output goes to stdout (``-``, ``--jsonl -``)."""
        if self.args.quiet:
            return
        stream = sys.stderr if imageio.STDOUT in (self.args.json, self.args.openpose_json,
                                                  getattr(self.args, "jsonl", None)) \
            else sys.stdout
        if self.progress is not None:
            self.progress.write(text, file=stream)
        else:
            print(text, file=stream, flush=True)

    def note(self, text: str, always: bool = False) -> None:
        """A one-line notice on stderr (not with --quiet unless ``always``)."""
        if self.args.quiet and not always:
            return
        line = f"{self.prog}: {text}"
        if self.progress is not None:
            self.progress.write(line, file=sys.stderr)
        else:
            print(line, file=sys.stderr, flush=True)

    def estimate(self, image: np.ndarray, name: str, seconds: Optional[float] = None
                 ) -> PoseResult:
        """Run the estimator on an image, with the downscale notice on the first large one;
        a live frame (captured at ``seconds``) at the size :attr:`sizer` chooses."""
        height, width = image.shape[:2]
        max_side = self.args.max_side
        if max_side and max(height, width) > max_side:
            if not self.downscale_noted:
                small_w, small_h = (round(v * max_side / max(height, width))
                                    for v in (width, height))
                self.note(f"note: {name} is {width}x{height}; the network sees it downscaled "
                          f"to {small_w}x{small_h} (--max-side {max_side}); keypoints are in "
                          "original pixels")
                self.downscale_noted = True
        sizer = self.sizer if seconds is not None else None
        half = sizer is not None and sizer.half(seconds)
        result = self.estimator(image, half_size=half)
        if sizer is not None:
            sizer.update(result.keypoints, image.shape[0], seconds, half)
        self.timings.append(result.timings)
        return result

    def drawing(self) -> Dict[str, object]:
        """The drawing options of the command line (--line-width, --no-labels, --kpt-conf)
        as keyword arguments of :func:`posekit.io.drawing.draw_poses`."""
        return {"line_width": getattr(self.args, "line_width", None),
                "labels": getattr(self.args, "labels", True),
                "kpt_conf": getattr(self.args, "kpt_conf", 0.0)}

    def maps_outputs(self, result: PoseResult, stem: str) -> List[Tuple[Path, bytes]]:
        """The heatmap grid and PAF picture of one result, encoded (with --save-maps)."""
        if not self.args.save_maps:
            return []
        folder = Path(self.args.save_maps)
        return [(folder / f"{stem}_heatmaps.jpg", imageio.encode_image(
                    maps_view.heatmap_grid(result.network_image, result.heatmaps, self.config),
                    ".jpg")),
                (folder / f"{stem}_pafs.jpg", imageio.encode_image(
                    maps_view.paf_picture(result.network_image, result.pafs, self.config),
                    ".jpg"))]

    def progress_bar(self, total: Optional[int], unit: str):
        """A tqdm bar on stderr (None with --quiet)."""
        if self.args.quiet:
            return None
        from tqdm import tqdm

        # smoothing 0: the bar shows the average rate, the rate the summary line prints
        return tqdm(total=total, unit=unit, file=sys.stderr, dynamic_ncols=True, leave=True,
                    smoothing=0)

    def max_side(self) -> Optional[int]:
        """The --max-side value, None when disabled (``posekit.apps.common.max_side``)."""
        return self.args.max_side

    def close_progress(self) -> None:
        """Close the progress bar, if one is shown."""
        if self.progress is not None:
            self.progress.close()
            self.progress = None

    def add_coco(self, people: List[dict]) -> None:
        """Keep the COCO results of one image or frame for ``--json``; without ``--json``
        nothing is kept (an endless live run must not grow: 4 KB a frame of two people)."""
        if self.args.json:
            self.coco += people

    def finish_json(self) -> None:
        """Write the run's COCO results (with --json; not while ``hold_json``).

        Raises:
            CommandError: the file cannot be written.
        """
        if self.args.json and not self.hold_json:
            try:
                imageio.write_json(self.args.json, self.coco)
            except OSError as exc:
                raise CommandError(f"cannot write {self.args.json}: {exc.strerror or exc}") from None

    def summary(self, count: int, unit: str, seconds: float, where: Path) -> None:
        """Throughput and median stage times of a folder or video run."""
        rate = count / seconds if seconds > 0 else 0.0
        self.say(f"{count} {unit} in {seconds:.1f} s ({rate:.2f} {unit}/s), written to {where}")
        if self.timings:
            medians = ", ".join(
                f"{stage} {statistics.median(t[stage] for t in self.timings):.4f} s"
                for stage in self.timings[0])
            self.say(f"median per {unit[:-1]}: {medians}")
