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

    One pass per level over the candles of all windows (a level is first reached on the first candle whose
    progress reaches it: the running extreme is not needed), with the same progress formula, so the answers
    equal :func:`milestones` window by window (a property test checks it)."""
    runs: list[list[Run]] = [[] for _ in windows]
    counts = [0] * len(windows)
    live = [k for k, (_, a, b, _, _) in enumerate(windows) if b > a]
    if not live:
        return runs, counts
    lengths = np.array([windows[k][2] - windows[k][1] for k in live])
    starts = np.concatenate(([0], np.cumsum(lengths)[:-1]))
    ends = starts + lengths
    at = np.repeat(np.array([windows[k][1] for k in live]) - starts, lengths) + np.arange(int(lengths.sum()))
    rows = [windows[k][0] for k in live]
    sign = np.repeat(np.array([1.0 if r.position == "long" else -1.0 for r in rows]), lengths)
    entry = np.repeat(np.array([r.price_open for r in rows]), lengths)
    n = len(at)
    sides: list[tuple[Side, list[float], np.ndarray, np.ndarray, np.ndarray]] = []
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
        for j, k in enumerate(live):
            _, _, _, fired_profit, fired_loss = windows[k]
            fired = fired_profit if favourable else fired_loss
            if fired:  # levels an activation candle already fired (rare)
                reached[[i for i, level in enumerate(ordered) if level in fired], j] = False
        sides.append((kind, ordered, first, reached, extreme))  # type: ignore[arg-type]  # kind is a Side
    per_window = sum((reached.sum(axis=0) for _, _, _, reached, _ in sides), np.zeros(len(live), int)).tolist()
    for j, k in enumerate(live):
        counts[k] = per_window[j]
    chosen, total = [], 0
    for j in range(len(live) - 1, -1, -1):  # the newest windows first, until enough milestones are built
        if newest_events and total >= newest_events:
            break
        if per_window[j]:
            chosen.append(j)
            total += per_window[j]
    for kind, ordered, first, reached, extreme in sides:
        for j in reversed(chosen):
            picked = np.flatnonzero(reached[:, j])
            if len(picked):
                index = first[picked, j]
                runs[live[j]].append((kind, [ordered[i] for i in picked.tolist()], ts[at[index]].tolist(),
                                      extreme[index].tolist()))
    return runs, counts


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
