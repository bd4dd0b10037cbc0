"""Vectorised candle evaluation of a held row (SPEC §5): pure functions over 1m columns.

They answer "which candle resolves this row, and which milestones fire before it"
with numpy masks and a single ``argmax``, so an open position costs O(candles)
vectorised work and no Python loop per candle. The state machine in
``pair_machine.py`` applies their answers (events, callbacks, state changes) for
backtest and live alike.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal, NamedTuple

import numpy as np

from .results import Side
from .signals import SignalRow


class Milestone(NamedTuple):
    """A partial level reached on candle ``candle`` (profit before loss, ascending levels)."""

    candle: int
    kind: Side
    level: float
    price: float


class MilestoneRun(NamedTuple):
    """The levels one side of a position reached on a block of candles, ascending, with the index of the
    candle that first reached each (non-decreasing) and that candle's extreme price."""

    kind: Side
    levels: list[float]
    candles: np.ndarray
    price: np.ndarray


@dataclass(frozen=True, slots=True)
class PositionHit:
    """The first candle that closes a position: its index, reason and exact close price."""

    index: int
    reason: Literal["take_profit", "stop_loss"]
    price: float


def first_true(mask: np.ndarray) -> int:
    """Index of the first ``True`` (``len(mask)`` when there is none)."""
    k = int(mask.argmax()) if len(mask) else 0
    return k if len(mask) and mask[k] else len(mask)


def position_hit(row: SignalRow, high: np.ndarray, low: np.ndarray, priority: str) -> PositionHit | None:
    """First candle whose high/low reaches TP or SL (SPEC §5.2); ``priority`` decides a candle that reaches both."""
    tp, sl = row.price_take_profit, row.price_stop_loss
    if row.position == "long":
        tp_hit, sl_hit = high >= tp, low <= sl
    else:
        tp_hit, sl_hit = low <= tp, high >= sl
    k = first_true(tp_hit | sl_hit)
    if k == len(high):
        return None
    reason: Literal["take_profit", "stop_loss"]
    if tp_hit[k] and sl_hit[k]:
        reason = "take_profit" if priority == "take_profit" else "stop_loss"
    else:
        reason = "take_profit" if tp_hit[k] else "stop_loss"
    return PositionHit(k, reason, tp if reason == "take_profit" else sl)


def activation_index(row: SignalRow, high: np.ndarray, low: np.ndarray) -> tuple[int, bool]:
    """First candle that activates a waiting row or reaches its SL: ``(index, activated)`` (SPEC §5.4)."""
    if row.position == "long":
        act, rej = low <= row.price_open, low <= row.price_stop_loss
    else:
        act, rej = high >= row.price_open, high >= row.price_stop_loss
    k = first_true(act | rej)
    return k, bool(k < len(act) and act[k])


def stop_loss_on(row: SignalRow, high: float, low: float) -> bool:
    """Does this candle reach the row's SL (the activation-candle check of §5.4 1c)?"""
    return low <= row.price_stop_loss if row.position == "long" else high >= row.price_stop_loss


def _progress(row: SignalRow, extreme: np.ndarray | float, kind: str) -> np.ndarray | float:
    """How far ``extreme`` went towards the TP (``profit``) or the SL (``loss``), in percent (SPEC §5.5).
    Monotone in the price, so it commutes with a running maximum of the favourable (or adverse) price."""
    o = row.price_open
    if kind == "profit":
        g = extreme - o if row.position == "long" else o - extreme
        return g / abs(row.price_take_profit - o) * 100
    b = o - extreme if row.position == "long" else extreme - o
    return b / abs(o - row.price_stop_loss) * 100


def milestone_runs(row: SignalRow, high: np.ndarray, low: np.ndarray, *, profit_levels: Sequence[float],
                   loss_levels: Sequence[float], fired_profit: set[float], fired_loss: set[float],
                   profit: bool = True) -> list[MilestoneRun]:
    """Per side, the levels first reached on these candles (SPEC §5.5) as arrays: what a report store keeps
    without one object per event. ``profit=False`` measures only losses (the activation candle). Does not
    mutate the fired sets.

    Each side first compares its best price over the candles with the lowest open level (one reduction);
    only a side that reaches a level pays for the running extreme and the search."""
    if not len(high):
        return []
    long = row.position == "long"
    out: list[MilestoneRun] = []
    sides: tuple[tuple[Side, Sequence[float], set[float], bool], ...] = (
        ("profit", profit_levels, fired_profit, profit), ("loss", loss_levels, fired_loss, True))
    for kind, levels, fired, enabled in sides:
        if not enabled or not levels:
            continue
        todo = sorted(lv for lv in levels if lv not in fired)
        if not todo:
            continue
        rising = long == (kind == "profit")  # the price moving up is what this side measures
        extreme = high if rising else low
        if _progress(row, float(extreme.max() if rising else extreme.min()), kind) < todo[0]:
            continue  # the common case: not even the lowest open level is reached
        running = np.maximum.accumulate(extreme) if rising else np.minimum.accumulate(extreme)
        first = _progress(row, running, kind).searchsorted(todo, side="left")  # type: ignore[union-attr]
        reached = int(np.count_nonzero(first < len(extreme)))
        index = first[:reached]
        out.append(MilestoneRun(kind, todo[:reached], index, extreme[index]))
    return out


def milestones(row: SignalRow, high: np.ndarray, low: np.ndarray, *, profit_levels: Sequence[float],
               loss_levels: Sequence[float], fired_profit: set[float], fired_loss: set[float],
               profit: bool = True) -> list[Milestone]:
    """:func:`milestone_runs` as one event per level, in event order: by candle, profit before loss,
    ascending levels."""
    out = [Milestone(k, run.kind, level, price) for run in milestone_runs(
        row, high, low, profit_levels=profit_levels, loss_levels=loss_levels, fired_profit=fired_profit,
        fired_loss=fired_loss, profit=profit) for level, k, price in zip(run.levels, run.candles.tolist(),
                                                                          run.price.tolist())]
    if len(out) > 1:
        out.sort(key=lambda m: (m.candle, m.kind != "profit", m.level))
    return out


Run = tuple[Side, list[float], list[int], list[float]]  # kind, levels, candle open times, prices


def window_milestones(ts: np.ndarray, high: np.ndarray, low: np.ndarray,
                      windows: Sequence[tuple[SignalRow, int, int, frozenset[float], frozenset[float]]],
                      profit_levels: Sequence[float], loss_levels: Sequence[float],
                      newest_events: int = 0) -> tuple[list[list[Run]], list[int]]:
    """:func:`milestones` of many positions at once: each window ``(row, a, b, fired_profit, fired_loss)`` is the
    candles ``[a, b)`` of ``ts``/``high``/``low`` its position lived through before the candle that closed it.
    Returns per window its runs ``(kind, levels, timestamps, prices)`` (levels ascending) and its number of
    milestones. With ``newest_events`` only the newest windows that hold that many milestones get their runs
    built (a report store keeps no more); the others are counted.

    Counting needs only each window's best price per side (one ``reduceat`` over all windows): progress is
    monotone in the price, so a level is reached in a window exactly when the best price's progress reaches it.
    Where each level was first reached is searched only in the windows whose runs are built."""
    runs: list[list[Run]] = [[] for _ in windows]
    counts = [0] * len(windows)
    live = [k for k, (_, a, b, _, _) in enumerate(windows) if b > a]
    if not live:
        return runs, counts
    bounds = np.array([(windows[k][1], windows[k][2]) for k in live], dtype=np.int64).ravel()
    top, bottom = _window_extremes(high, low, bounds)
    rows = [windows[k][0] for k in live]
    long = np.array([r.position == "long" for r in rows])
    entry = np.array([r.price_open for r in rows])
    per_window = np.zeros(len(live), dtype=np.int64)
    with_fired = [j for j, k in enumerate(live) if windows[k][3] or windows[k][4]]
    for kind, levels, span in (("profit", profit_levels, [abs(r.price_take_profit - r.price_open) for r in rows]),
                               ("loss", loss_levels, [abs(r.price_open - r.price_stop_loss) for r in rows])):
        if not levels:
            continue
        favourable = kind == "profit"
        best = np.where(long == favourable, top, bottom)
        direction = np.where(long, 1.0, -1.0) if favourable else np.where(long, -1.0, 1.0)
        progress = direction * (best - entry) / np.array(span) * 100  # the per-candle formula, on the best price
        ordered = np.array(sorted(levels))
        per_window += np.searchsorted(ordered, progress, side="right")
        for j in with_fired:  # levels an activation candle already fired (rare) are not counted again
            fired = windows[live[j]][3] if favourable else windows[live[j]][4]
            per_window[j] -= sum(1 for level in fired if level <= progress[j])
    counts_live = per_window.tolist()
    for j, k in enumerate(live):
        counts[k] = counts_live[j]
    chosen, total = [], 0
    for j in range(len(live) - 1, -1, -1):  # the newest windows first, until enough milestones are built
        if newest_events and total >= newest_events:
            break
        if counts_live[j]:
            chosen.append(live[j])
            total += counts_live[j]
    if chosen:
        chosen.reverse()
        for k, found in zip(chosen, _window_runs(ts, high, low, [windows[k] for k in chosen], profit_levels,
                                                 loss_levels)):
            runs[k] = found
    return runs, counts


def _window_extremes(high: np.ndarray, low: np.ndarray, bounds: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Highest high and lowest low of each window ``[bounds[2i], bounds[2i+1])`` (non-empty, in time order)."""
    n = len(high)
    edges = np.minimum(bounds, n - 1)  # reduceat needs indices inside the array; a last end at n is cut below
    top = np.maximum.reduceat(high, edges)[::2]
    bottom = np.minimum.reduceat(low, edges)[::2]
    last = int(bounds[-2])  # the last window's reduction ran to the end of the array when its end was n
    if bounds[-1] >= n:
        top[-1], bottom[-1] = high[last:].max(), low[last:].min()
    return top, bottom


def _window_runs(ts: np.ndarray, high: np.ndarray, low: np.ndarray,
                 windows: Sequence[tuple[SignalRow, int, int, frozenset[float], frozenset[float]]],
                 profit_levels: Sequence[float], loss_levels: Sequence[float]) -> list[list[Run]]:
    """The runs of non-empty windows: one pass per level over the candles of all of them (a level is first
    reached on the first candle whose progress reaches it), with the same progress formula as
    :func:`milestones`."""
    lengths = np.array([b - a for _, a, b, _, _ in windows])
    starts = np.concatenate(([0], np.cumsum(lengths)[:-1]))
    ends = starts + lengths
    at = np.repeat(np.array([a for _, a, _, _, _ in windows]) - starts, lengths) + np.arange(int(lengths.sum()))
    rows = [w[0] for w in windows]
    sign = np.repeat(np.array([1.0 if r.position == "long" else -1.0 for r in rows]), lengths)
    entry = np.repeat(np.array([r.price_open for r in rows]), lengths)
    n = len(at)
    runs: list[list[Run]] = [[] for _ in windows]
    for kind, levels, span in (("profit", profit_levels, [abs(r.price_take_profit - r.price_open) for r in rows]),
                               ("loss", loss_levels, [abs(r.price_open - r.price_stop_loss) for r in rows])):
        if not levels:
            continue
        favourable = kind == "profit"
        extreme = np.where((sign > 0) == favourable, high[at], low[at])
        direction = sign if favourable else -sign
        progress = direction * (extreme - entry) / np.repeat(np.array(span), lengths) * 100
        ordered = sorted(levels)
        first = np.stack([_first_at_or_after(np.flatnonzero(progress >= level), starts, n) for level in ordered])
        reached = first < ends  # levels x windows
        for j, (_, _, _, fired_profit, fired_loss) in enumerate(windows):
            fired = fired_profit if favourable else fired_loss
            if fired:  # levels an activation candle already fired (rare)
                reached[[i for i, level in enumerate(ordered) if level in fired], j] = False
            picked = np.flatnonzero(reached[:, j])
            if len(picked):
                index = first[picked, j]
                runs[j].append((kind, [ordered[i] for i in picked.tolist()], ts[at[index]].tolist(),  # type: ignore[arg-type]
                                extreme[index].tolist()))
    return runs


def _first_at_or_after(hits: np.ndarray, starts: np.ndarray, n: int) -> np.ndarray:
    """For each start, the first of the sorted ``hits`` at or after it (``n`` when there is none)."""
    k = hits.searchsorted(starts)
    return np.where(k < len(hits), hits[np.minimum(k, len(hits) - 1)] if len(hits) else n, n)


def percent_progress(row: SignalRow, current_price: float) -> tuple[float, float]:
    """``(percent_tp, percent_sl)`` of an ``active`` result (SPEC §4.1)."""
    o = row.price_open
    d = current_price - o if row.position == "long" else o - current_price
    if d > 0:
        return min(d / abs(row.price_take_profit - o) * 100, 100), 0.0
    if d < 0:
        return 0.0, min(-d / abs(o - row.price_stop_loss) * 100, 100)
    return 0.0, 0.0
