"""The static transfer curve of sox ``compand``: output level for an input level, knees included.

Its one job: the curve that ``asckit.audio.augment.compand`` applies at each envelope level, built
the way sox 14.4 builds it from ``compand attack,decay knee:in1,out1,in2,out2,... gain``, so that
asckit's compander gives sox's levels (tests/test_augment.py compares with the real ``sox``).
sox lays the curve out as **gain** (output − input, dB) over input level:

- a point (0, 0) is appended when the last input is below 0 dB, and the gain added to every point;
- a flat *tail-off* segment, ``2·knee`` dB long, is put before the first point, so below the
  first point the gain stays the first point's;
- every corner but the last (0 dB) is rounded in the (input, gain) plane: the knee starts
  ``min(knee, segment)`` before the corner along the incoming segment and ends
  ``min(knee, segment/2)`` after it along the outgoing one, and between them the gain is the
  parabola in the input level through the knee's start, the centroid of (start, corner, end) and
  its end; under the first knee's start the gain is constant;
- above 0 dB the last gain is held.

The first version of this curve rounded the corners of the (input, output) curve with parabolas
tangent to both segments over ±knee dB of input: within 0.47 dB of sox 14.4.2 on the reference's
curves (worst reverb-cpd4; 20 ms levels of reverberated demo clips, clipped windows left out);
this one agrees to 0.001 dB (tests/test_compand_curve.py).

Reimplemented from the geometry above (sox is LGPL; no code copied), because no maintained
Python library implements sox's compander.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

__all__ = ["sox_segments", "transfer_db"]

_DB = 20.0 / math.log(10.0)  # natural log → dB


def sox_segments(points: Sequence[tuple[float, float]], gain_db: float, knee_db: float) -> list[list[float]]:
    """The curve as sox lays it out: ``[x, y, a, b]`` rows in natural-log units, y the gain.

    Even rows are straight pieces starting at (x, y) with slope b; odd rows are knees, the
    parabola ``y + u·(a·u + b)`` with ``u = input − x``. Evaluated by :func:`transfer_db`.
    """
    pts = [(float(x), float(y) - float(x)) for x, y in points]  # (input, gain)
    if pts[-1][0] != 0.0:
        pts.append((0.0, 0.0))
    knee = max(float(knee_db), 0.01)  # sox's smallest knee
    pts.insert(0, (pts[0][0] - 2.0 * knee, pts[0][1]))  # the tail-off segment
    pts = _join_collinear(pts)
    scale = 1.0 / _DB
    rows = [[0.0, 0.0, 0.0, 0.0] for _ in range(2 * len(pts) - 1)]
    for k, (x, y) in enumerate(pts):
        rows[2 * k][0], rows[2 * k][1] = x * scale, (y + gain_db) * scale
    radius = knee * scale
    for k in range(1, len(pts) - 1):  # every corner but the last point's
        line1, curve, line2, line3 = rows[2 * k - 2], rows[2 * k - 1], rows[2 * k], rows[2 * k + 2]
        line1[2], line1[3] = 0.0, _slope(line1, line2)
        line2[2], line2[3] = 0.0, _slope(line2, line3)
        theta = math.atan2(line2[1] - line1[1], line2[0] - line1[0])
        r = min(radius, math.hypot(line2[0] - line1[0], line2[1] - line1[1]))
        curve[0], curve[1] = line2[0] - r * math.cos(theta), line2[1] - r * math.sin(theta)
        theta = math.atan2(line3[1] - line2[1], line3[0] - line2[0])
        r = min(radius, math.hypot(line3[0] - line2[0], line3[1] - line2[1]) / 2)
        end_x, end_y = line2[0] + r * math.cos(theta), line2[1] + r * math.sin(theta)
        cx, cy = (curve[0] + line2[0] + end_x) / 3, (curve[1] + line2[1] + end_y) / 3
        line2[0], line2[1] = end_x, end_y
        in1, out1 = cx - curve[0], cy - curve[1]
        in2, out2 = line2[0] - curve[0], line2[1] - curve[1]
        curve[2] = (out2 / in2 - out1 / in1) / (in2 - in1)
        curve[3] = out1 / in1 - curve[2] * in1
    rows[-2] = [0.0, rows[-1][1], 0.0, 0.0]  # from 0 dB on, the last gain is held
    return rows


def _slope(a: list[float], b: list[float]) -> float:
    return (b[1] - a[1]) / (b[0] - a[0])


def _join_collinear(pts: list[tuple[float, float]]) -> list[tuple[float, float]]:
    """Drop points that lie on the straight line through their neighbours (sox joins them)."""
    out = list(pts)
    k = 1
    while k < len(out) - 1:
        (x0, y0), (x1, y1), (x2, y2) = out[k - 1], out[k], out[k + 1]
        if (y1 - y0) * (x2 - x1) == (y2 - y1) * (x1 - x0):
            del out[k]
        else:
            k += 1
    return out


def transfer_db(
    points: Sequence[tuple[float, float]], gain_db: float, knee_db: float, input_db
) -> np.ndarray:
    """Output level (dB) of sox's curve for input levels ``input_db`` (dB, any shape)."""
    rows = sox_segments(points, gain_db, knee_db)
    level_db = np.asarray(input_db, dtype=np.float64)
    level = level_db / _DB
    # sox walks the rows from the first knee while the input lies beyond the next row's start.
    index = np.ones(level.shape, dtype=np.int64)
    moving = np.ones(level.shape, dtype=bool)
    for k in range(2, len(rows)):
        moving &= level > rows[k][0]
        index[moving] = k
    table = np.asarray(rows)
    x, y, a, b = (table[index, c] for c in range(4))
    u = level - x
    gain = np.where(level <= rows[1][0], rows[1][1], y + u * (a * u + b))  # under the first knee: its gain
    return level_db + gain * _DB
