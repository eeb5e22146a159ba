"""Source-activity detection (SAD), as the published preprocessing does it.

Frames of ``frame_ms``; a frame's power is the sum of squares over its samples
and channels. The threshold is the ``percentile``-th percentile of the frame
powers above ``floor`` (a stem with no such frame is silent). Windows of
``window_s`` seconds every ``hop_s`` seconds are kept when more than
``active_fraction`` of their frames exceed the threshold. Works for any channel
count (the published script assumes stereo and crashes on mono).
"""

from __future__ import annotations

import numpy as np

from apollo.params import SADParams




def frame_powers(audio: np.ndarray, frame: int) -> np.ndarray:
    """(frames, channels) -> power per full frame (summed over samples and channels)."""
    n = len(audio) // frame
    return np.square(audio[: n * frame].astype(np.float64)).reshape(n, -1).sum(1)


def active_segments(audio: np.ndarray, sr: int, params: SADParams) -> list[tuple[int, int]]:
    """Kept windows as (start, end) sample ranges; [] for a silent stem."""
    if audio.ndim == 1:
        audio = audio[:, None]
    frame = int(round(sr * params.frame_ms / 1000))
    powers = frame_powers(audio, frame)
    loud = powers[powers > params.floor]
    if loud.size == 0:
        return []
    threshold = np.percentile(loud, params.percentile)
    active = powers > threshold
    per_window = int(round(params.window_s * 1000 / params.frame_ms))
    per_hop = int(round(params.hop_s * 1000 / params.frame_ms))
    segments = []
    for first in range(0, len(active) - per_window + 1, per_hop):
        if active[first : first + per_window].mean() > params.active_fraction:
            segments.append((first * frame, (first + per_window) * frame))
    return segments
