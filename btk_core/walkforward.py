"""Walk-forward windows and the figures that judge them (``walk_forward_flow``).

Each window trains on ``[train_start, train_end)`` and tests on the ``[test_start, test_end)`` that follows it;
rolling windows slide both by ``step``, anchored ones keep ``train_start`` at the frame's start. A window's
choice is made from trades closed by its ``train_end`` only (a trade still open then is not counted, as if the
backtest had ended there, SPEC §7.4), so nothing after ``train_end`` informs it: the test results are out of
sample by construction.
"""
from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

DAY_MS = 86_400_000


@dataclass(frozen=True)
class Window:
    index: int
    train_start: int
    train_end: int
    test_start: int
    test_end: int


def windows(start_ms: int, end_ms: int, train_ms: int, test_ms: int, step_ms: int | None = None,
            anchored: bool = False) -> list[Window]:
    """The windows that fit in ``[start_ms, end_ms)``: test windows follow each other every ``step_ms``
    (default ``test_ms``: back to back, no overlap)."""
    if min(train_ms, test_ms) <= 0 or (step_ms is not None and step_ms <= 0):
        raise ValueError(f"train, test and step must be positive, got {train_ms}, {test_ms}, {step_ms}")
    step = step_ms or test_ms
    out: list[Window] = []
    k = 0
    while True:
        train_end = start_ms + train_ms + k * step
        test_end = train_end + test_ms
        if test_end > end_ms:
            break
        out.append(Window(k, start_ms if anchored else train_end - train_ms, train_end, train_end, test_end))
        k += 1
    return out


def daily_rate(compounded_return: float | None, days: float) -> float | None:
    """The constant daily return that compounds to ``compounded_return`` (%) over ``days``, in %."""
    if compounded_return is None or days <= 0 or compounded_return <= -100:
        return None
    return ((1 + compounded_return / 100) ** (1 / days) - 1) * 100


def efficiency_ratio(in_sample: Sequence[float | None], out_of_sample: Sequence[float | None]) -> float | None:
    """Mean out-of-sample daily return over mean in-sample daily return (of the chosen combinations): 1 means
    the choice kept its in-sample performance, 0 that it kept none; ``None`` when the in-sample mean is not
    positive (nothing to keep) or a side has no value."""
    kept_in = [x for x in in_sample if x is not None]
    kept_out = [x for x in out_of_sample if x is not None]
    if not kept_in or not kept_out:
        return None
    mean_in, mean_out = math.fsum(kept_in) / len(kept_in), math.fsum(kept_out) / len(kept_out)
    return mean_out / mean_in if mean_in > 0 else None
