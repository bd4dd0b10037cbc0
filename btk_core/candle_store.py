"""The per-run candle store: aligned block reads with paging and retries, contract
checks, defect exclusion, the visibility rule and the average price (SPEC §2.5–§2.9).

One store serves one run (a backtest, a portfolio run, a walker's backtest, a
live run) on one exchange. Blocks that ended before ``now`` are loaded once and
kept as read-only numpy columns; the block containing ``now`` is reloaded when
``now`` has moved. For every closed 1m block the average price of each of its
minutes is precomputed in one vectorised pass, in the exact left-to-right
summation order of §2.9, so the hot path reads it with an index.
"""
from __future__ import annotations

import logging
import math
from collections.abc import Iterator

import numpy as np

from . import clock
from .candles import Candles, Columns, ContractError, checked_columns, empty_columns, freeze
from .config import ConfigSnapshot
from .errors import AveragePriceError, CandleDefectError, CandleFetchError, CandleSourceUnusable
from .events import emit_error
from .guard import call_user
from .intervals import CANDLE_INTERVAL_MS, MINUTE_MS
from .schemas import ExchangeSchema

log = logging.getLogger("btk")


PREFETCH_GROUP = 64  # blocks checked and priced together by CandleStore.prefetch


class Block:
    """Validated candles of one aligned block ``[start, start + size*I)``."""

    __slots__ = ("start", "cols", "complete", "final", "loaded_at", "vwap_table", "origin")

    def __init__(self, start: int, cols: Columns, complete: bool, final: bool, loaded_at: int,
                 origin: tuple[Columns, int] | None = None) -> None:
        self.start = start
        self.cols = cols
        self.complete = complete      # every slot present: index = (t - start) // I
        self.final = final            # ended before it was loaded: never reloaded
        self.loaded_at = loaded_at
        self.vwap_table: tuple[np.ndarray, np.ndarray] | None = None
        #: the columns of a prefetch this block is a slice of, and where the slice starts: a window over
        #: consecutive blocks of one prefetch is a slice of those columns instead of a copy
        self.origin = origin

    def index(self, t: int, interval_ms: int) -> int:
        """Index of the first candle with ``timestamp >= t`` (t inside the block's span)."""
        if self.complete:
            return -((self.start - t) // interval_ms)  # ceil: t need not be aligned
        return int(self.cols[0].searchsorted(t))


def find_defects(cols: Columns, *, factor: int, min_for_median: int) -> np.ndarray | None:
    """Array of reasons (``""`` = fine) for every candle of a block (SPEC §2.7 B); None when all are fine
    (the usual case, decided with a few whole-block comparisons)."""
    _, o, h, l, c, v = cols
    n = len(o)
    if n == 0:
        return None
    with np.errstate(invalid="ignore"):
        if (np.isfinite(o).all() and np.isfinite(h).all() and np.isfinite(l).all() and np.isfinite(c).all()
                and np.isfinite(v).all() and (l > 0).all() and (v >= 0).all()
                and (h >= np.maximum(o, c)).all() and (l <= np.minimum(o, c)).all()
                and l.min() >= h.max() / factor):
            # clean: every price lies in [min(low), max(high)] and so does ref; max(high) <= min(low) * factor
            # then keeps every price within [ref / factor, ref * factor]
            return None
    reasons = np.full(n, "", dtype=object)
    prices = np.concatenate((o, h, l, c))
    usable = prices[np.isfinite(prices) & (prices > 0)]
    ref: float | None
    if usable.size == 0:
        ref = None
    elif n >= min_for_median:
        ref = float(np.sort(usable)[usable.size // 2])
    else:
        ref = math.fsum(usable.tolist()) / usable.size
    with np.errstate(invalid="ignore"):
        rules = [
            (~(np.isfinite(o) & np.isfinite(h) & np.isfinite(l) & np.isfinite(c) & np.isfinite(v)),
             "non-finite value"),
            ((o <= 0) | (h <= 0) | (l <= 0) | (c <= 0), "price <= 0"),
            (v < 0, "volume < 0"),
            (h < np.maximum(o, c), "high < max(open, close)"),
            (l > np.minimum(o, c), "low > min(open, close)"),
        ]
        if ref is None:
            rules.append((np.ones(n, dtype=bool), "no valid price in block"))
        else:
            floor, ceiling = ref / factor, ref * factor  # SPEC §20.3: both directions
            rules.append(((o < floor) | (h < floor) | (l < floor) | (c < floor),
                          f"price anomaly (< {floor!r})"))
            rules.append(((o > ceiling) | (h > ceiling) | (l > ceiling) | (c > ceiling),
                          f"price anomaly (> {ceiling!r})"))
    for mask, reason in reversed(rules):  # the first rule that matches wins
        reasons[mask] = reason
    return reasons


def vwap_table(cols: Columns, grid_start: int, count: int, n_avg: int) -> tuple[np.ndarray, np.ndarray]:
    """Average price at ``a = grid_start + (j + n_avg) * 1m`` for ``j < count``, and the candle count used.

    Missing minutes contribute exact zeros, so each N-term left-to-right sum equals
    the plain sum over the candles present (SPEC §2.9). ``NaN`` where no candle exists.
    """
    ts, _, h, l, c, v = cols
    size = count + n_avg - 1
    typical = ((h + l) + c) / 3 * v
    if len(ts) == size and ts[0] == grid_start:  # every minute present (ts is strictly increasing): no scatter
        num, den = _window_sums(typical, count, n_avg), _window_sums(v, count, n_avg)
        if den.all():  # no window without volume: the closes' mean is never the answer
            return num / den, np.full(count, n_avg, dtype=np.int64)
        tv, vol, close, present = typical, v, c, np.ones(size, dtype=np.int64)
    else:
        pos = (ts - grid_start) // MINUTE_MS
        tv, vol, close = np.zeros(size), np.zeros(size), np.zeros(size)
        present = np.zeros(size, dtype=np.int64)
        tv[pos], vol[pos], close[pos], present[pos] = typical, v, c, 1
        num, den = _window_sums(tv, count, n_avg), _window_sums(vol, count, n_avg)
    csum, cnt = _window_sums(close, count, n_avg), _window_sums(present, count, n_avg)
    with np.errstate(invalid="ignore", divide="ignore"):
        price = np.where(den != 0, num / np.where(den != 0, den, 1.0), csum / np.maximum(cnt, 1))
    price[cnt == 0] = np.nan
    return price, cnt


def _window_sums(values: np.ndarray, count: int, n: int) -> np.ndarray:
    """``out[j] = values[j] + values[j+1] + ... + values[j+n-1]``, added left to right (SPEC §2.9's order)."""
    out = values[:count].copy()
    for i in range(1, n):
        out += values[i:i + count]
    return out


class CandleStore:
    """Candle access for one run on one exchange."""

    def __init__(self, exchange: ExchangeSchema, cfg: ConfigSnapshot) -> None:
        self.exchange = exchange
        self.cfg = cfg
        self.block_size: int = cfg.CC_CANDLE_BLOCK_SIZE
        self.n_avg: int = cfg.CC_AVG_PRICE_CANDLES_COUNT
        self._minute_span = self.block_size * MINUTE_MS
        self._blocks: dict[tuple[str, str, int], Block] = {}
        self._reported_defects: set[tuple[str, str, int]] = set()
        self._last_vwap_block: tuple[int, str, Block] | None = None
        self._last_block: tuple[int, str, str, Block] | None = None

    def release(self) -> None:
        """Forget every loaded block (the run is over; finished pairs keep their results, not their candles)."""
        self._blocks.clear()
        self._last_block = self._last_vwap_block = None

    # ---- blocks -------------------------------------------------------------------
    def block(self, symbol: str, interval: str, k: int) -> Block:
        """Block ``k`` of ``(symbol, interval)``; loads it if needed (raises ``CandleFetchError``)."""
        blk = self._blocks.get((symbol, interval, k))
        if blk is not None and (blk.final or blk.loaded_at == clock.now()):
            return blk
        return self._load(symbol, interval, k)

    def _load(self, symbol: str, interval: str, k: int) -> Block:
        interval_ms = CANDLE_INTERVAL_MS[interval]
        size = self.block_size
        start = k * size * interval_ms
        end = start + size * interval_ms
        now = clock.now()
        final = end <= now
        limit = size if final else max(0, (now - start) // interval_ms)
        if limit == 0:
            blk = Block(start, empty_columns(), False, False, now)
        else:
            cols = self._read_block(symbol, interval, interval_ms, start, end, limit)
            freeze(*cols)
            blk = Block(start, cols, len(cols[0]) == size, final, now)
            on_data = self.exchange.callbacks.get("on_candle_data")
            if on_data is not None:
                call_user(on_data, symbol, interval, start, limit, Candles.view(cols, 0, len(cols[0])),
                          where="on_candle_data", symbol=symbol)
        self._blocks[(symbol, interval, k)] = blk
        return blk

    def prefetch(self, symbol: str, t_from: int, t_to: int, interval: str = "1m") -> None:
        """Load the final ``interval`` blocks that cover ``[t_from, t_to)`` with one paged fetch instead of one per
        block, and the average-price tables of 1m blocks with one pass (a backtest needs them all). Only blocks
        whose candles pass the whole-block checks are made here, exactly as ``_load`` would make them; anything
        else (a fetch or contract failure, a defective candle) is left to the per-block path with its retries and
        reports, so the result does not depend on whether this ran (SPEC §2.5)."""
        interval_ms = CANDLE_INTERVAL_MS[interval]
        size, span = self.block_size, self.block_size * interval_ms
        k0, k1 = t_from // span, min((t_to - 1) // span, clock.now() // span - 1)  # only blocks that have ended
        todo = [k for k in range(k0, k1 + 1) if (symbol, interval, k) not in self._blocks]
        if len(todo) < 2:
            return
        k0, k1 = todo[0], todo[-1]
        start, end = k0 * span, (k1 + 1) * span
        try:
            cols = self._fetch_pages(symbol, interval, interval_ms, start, end, (k1 + 1 - k0) * size)
        except Exception:
            return
        bounds = np.searchsorted(cols[0], np.arange(k0, k1 + 2, dtype=np.int64) * span)
        counts = np.diff(bounds)
        freeze(*cols)
        now = clock.now()
        on_data = self.exchange.callbacks.get("on_candle_data")
        made: set[int] = set()
        for g0 in range(k0, k1 + 1, PREFETCH_GROUP):  # groups of blocks keep the temporaries small
            g1 = min(g0 + PREFETCH_GROUP, k1 + 1)
            clean = self._clean_blocks(cols, bounds[g0 - k0:g1 - k0 + 1])
            for k in range(g0, g1):
                n = k - k0
                if not clean[k - g0] or (symbol, interval, k) in self._blocks:
                    continue
                part: Columns = tuple(col[bounds[n]:bounds[n + 1]] for col in cols)  # type: ignore[assignment]
                self._blocks[(symbol, interval, k)] = Block(k * span, part, int(counts[n]) == size, True, now,
                                                            (cols, int(bounds[n])))
                made.add(k)
                if on_data is not None:
                    call_user(on_data, symbol, interval, k * span, size, Candles.view(part, 0, len(part[0])),
                              where="on_candle_data", symbol=symbol)
            if interval == "1m":
                self._vwap_tables(symbol, cols, [k for k in range(g0, g1) if k in made and k - 1 in made])

    def _clean_blocks(self, cols: Columns, bounds: np.ndarray) -> np.ndarray:
        """For consecutive blocks whose candles are ``cols[bounds[i]:bounds[i+1]]``: does each pass every check of
        ``find_defects`` (the whole-block fast path)? Empty blocks count as not clean (left to the block path)."""
        _, o, h, l, c, v = (col[bounds[0]:bounds[-1]] for col in cols)
        starts, counts = bounds[:-1] - bounds[0], np.diff(bounds)
        clean = np.zeros(len(counts), dtype=bool)
        filled = np.flatnonzero(counts)
        if len(filled):
            first = starts[filled]
            with np.errstate(invalid="ignore"):
                fine = (np.isfinite(o) & np.isfinite(h) & np.isfinite(l) & np.isfinite(c) & np.isfinite(v) & (l > 0)
                        & (v >= 0) & (h >= np.maximum(o, c)) & (l <= np.minimum(o, c)))
                factor = self.cfg.CC_GET_CANDLES_PRICE_ANOMALY_THRESHOLD_FACTOR
                clean[filled] = (np.logical_and.reduceat(fine, first)
                                 & (np.minimum.reduceat(l, first) >= np.maximum.reduceat(h, first) / factor))
        return clean

    def _vwap_tables(self, symbol: str, cols: Columns, blocks: list[int]) -> None:
        """Average-price tables of loaded 1m ``blocks`` (ascending, each preceded by a loaded block) from one
        ``vwap_table`` call: element by element the same arithmetic as one call per block (a price only reads the
        minutes before it, so other blocks in the span cannot change it)."""
        if not blocks or self.n_avg > self.block_size:
            return
        size, span, n_avg = self.block_size, self._minute_span, self.n_avg
        first, last = blocks[0] - 1, blocks[-1]
        ts = cols[0]
        lo, hi = int(ts.searchsorted(first * span)), int(ts.searchsorted((last + 1) * span - MINUTE_MS))
        price, cnt = vwap_table(tuple(col[lo:hi] for col in cols), first * span,  # type: ignore[arg-type]
                                (last + 1 - first) * size - n_avg, n_avg)
        for k in blocks:
            j = (k - first) * size - n_avg
            self._blocks[(symbol, "1m", k)].vwap_table = (price[j:j + size], cnt[j:j + size])

    def _read_block(self, symbol: str, interval: str, interval_ms: int, start: int, end: int,
                    limit: int) -> Columns:
        """One block through up to ``max(1, retry count)`` attempts (SPEC §2.6, §2.7)."""
        attempts = max(1, self.cfg.CC_GET_CANDLES_RETRY_COUNT)
        failure = ""
        cause: BaseException | None = None
        for attempt in range(1, attempts + 1):
            try:
                cols = self._fetch_pages(symbol, interval, interval_ms, start, end, limit)
            except (ContractError, CandleSourceUnusable) as exc:  # SPEC §20.3: retrying cannot heal it
                failure, cause = f"broke the contract: {exc}", None
                if isinstance(exc, CandleSourceUnusable):
                    failure, cause = f"cannot be used: {exc}", exc
                break
            except Exception as exc:  # the user's source raised
                failure, cause = f"raised {type(exc).__name__}: {exc}", exc
            else:
                reasons = find_defects(cols, factor=self.cfg.CC_GET_CANDLES_PRICE_ANOMALY_THRESHOLD_FACTOR,
                                       min_for_median=self.cfg.CC_GET_CANDLES_MIN_CANDLES_FOR_MEDIAN)
                bad = None if reasons is None else reasons != ""
                if bad is None or not bad.any():
                    return cols
                if attempt == attempts:
                    assert reasons is not None
                    return self._exclude(symbol, interval, cols, reasons, bad)
                failure, cause = f"returned {int(bad.sum())} defective candle(s)", None
            if attempt < attempts:
                log.warning("get_candles attempt %d/%d failed for %s %s %s since=%d: %s",
                            attempt, attempts, self.exchange.exchange_name, symbol, interval, start, failure)
                clock.pause(self.cfg.CC_GET_CANDLES_RETRY_DELAY_MS / 1000)
        err = CandleFetchError(
            f"get_candles failed for exchange={self.exchange.exchange_name} symbol={symbol} "
            f"interval={interval} since={start} limit={limit}: {failure}")
        if cause is not None:
            err.__cause__ = cause
        raise err

    def _fetch_pages(self, symbol: str, interval: str, interval_ms: int, start: int, end: int,
                     limit: int) -> Columns:
        """Ask the source for the block, page after page, keeping only closable candles."""
        keep_before = min(end, start + limit * interval_ms)
        last_possible = keep_before - interval_ms
        since, remaining = start, limit
        parts: list[Columns] = []
        while remaining > 0:
            answer = self.exchange.get_candles(symbol, interval, since, remaining)
            cols = checked_columns(answer, since=since, limit=remaining, interval_ms=interval_ms)
            ts = cols[0]
            n = int(ts.searchsorted(keep_before))
            if n == 0:
                break
            if n < len(ts):
                cols = tuple(c[:n] for c in cols)  # type: ignore[assignment]
            parts.append(cols)
            last = int(ts[n - 1])
            if last >= last_possible:
                break
            since = last + interval_ms
            remaining = (last_possible - since) // interval_ms + 1
        if not parts:
            return empty_columns()
        if len(parts) == 1:  # a read-only answer cannot change under us: keep its memory (no second copy)
            return tuple(c if not c.flags.writeable else np.array(c) for c in parts[0])  # type: ignore[return-value]
        return tuple(np.concatenate(col) for col in zip(*parts))  # type: ignore[return-value]

    def _exclude(self, symbol: str, interval: str, cols: Columns, reasons: np.ndarray,
                 bad: np.ndarray) -> Columns:
        ts = cols[0]
        new = []
        for t, reason in zip(ts[bad].tolist(), reasons[bad].tolist()):
            key = (symbol, interval, t)
            if key not in self._reported_defects:
                self._reported_defects.add(key)
                new.append((t, reason))
        if new:
            emit_error(CandleDefectError(
                f"excluded {len(new)} defective candle(s) from exchange={self.exchange.exchange_name} "
                f"symbol={symbol} interval={interval}: "
                + ", ".join(f"{t} ({reason})" for t, reason in new[:10])
                + (" ..." if len(new) > 10 else ""), tuple(new)))
        good = ~bad
        return tuple(c[good] for c in cols)

    # ---- windows ------------------------------------------------------------------
    def iter_window(self, symbol: str, interval: str, t_from: int, t_to: int) -> Iterator[Columns]:
        """Non-empty per-block column views of ``t_from <= timestamp < t_to``, loading blocks lazily,
        so a search that stops early never reads the blocks after its hit."""
        for blk, i0, i1 in self._window_slices(symbol, interval, t_from, t_to):
            yield tuple(c[i0:i1] for c in blk.cols)  # type: ignore[misc]

    def _window_slices(self, symbol: str, interval: str, t_from: int,
                       t_to: int) -> Iterator[tuple[Block, int, int]]:
        """The blocks of ``t_from <= timestamp < t_to`` with the (non-empty) range of each inside it."""
        if t_to <= t_from:
            return
        interval_ms = CANDLE_INTERVAL_MS[interval]
        span = self.block_size * interval_ms
        for k in range(t_from // span, (t_to - 1) // span + 1):
            blk = self.block(symbol, interval, k)
            i0 = blk.index(max(t_from, blk.start), interval_ms)
            i1 = blk.index(min(t_to, blk.start + span), interval_ms)
            if i1 > i0:
                yield blk, i0, i1

    def loaded_until(self, symbol: str, interval: str, t_from: int, t_to: int) -> int:
        """How far from ``t_from`` (up to ``t_to``) the blocks are loaded and final: a window up to there reads
        nothing from the source."""
        span = self.block_size * CANDLE_INTERVAL_MS[interval]
        k = t_from // span
        while k * span < t_to:
            blk = self._blocks.get((symbol, interval, k))
            if blk is None or not blk.final:
                return max(t_from, k * span)
            k += 1
        return t_to

    def window(self, symbol: str, interval: str, t_from: int, t_to: int) -> Columns:
        """Columns of the candles with ``t_from <= timestamp < t_to``: views when one block suffices or the
        blocks are consecutive slices of one prefetch, else a read-only copy."""
        slices = list(self._window_slices(symbol, interval, t_from, t_to))
        if not slices:
            return empty_columns()
        if len(slices) == 1:
            blk, i0, i1 = slices[0]
            return tuple(c[i0:i1] for c in blk.cols)  # type: ignore[return-value]
        joined = _prefetch_slice(slices)
        if joined is not None:
            return joined
        cols = tuple(np.concatenate([blk.cols[n][i0:i1] for blk, i0, i1 in slices]) for n in range(6))
        freeze(*cols)
        return cols  # type: ignore[return-value]

    def last_closed(self, symbol: str, interval: str, limit: int, when: int) -> Candles:
        """The last ``limit`` candles closed at ``when`` (SPEC §2.8). Called once per ``get_candles``:
        the common case (one cached complete block) is index arithmetic and a view."""
        interval_ms = CANDLE_INTERVAL_MS[interval]
        a = when - when % interval_ms
        t_from = a - limit * interval_ms
        span = self.block_size * interval_ms
        k = t_from // span
        if k != (a - 1) // span:
            cols = self.window(symbol, interval, t_from, a)
            return Candles.view(cols, 0, len(cols[0]))
        last = self._last_block  # get_candles calls mostly hit the block of the previous call
        if last is not None and last[0] == k and last[1] == interval and last[2] == symbol:
            blk = last[3]
        else:
            cached = self._blocks.get((symbol, interval, k))
            blk = cached if cached is not None and cached.final else self.block(symbol, interval, k)
            if blk.final:
                self._last_block = (k, interval, symbol, blk)
        if blk.complete:  # t_from and a are aligned: exact slots
            return Candles.view(blk.cols, (t_from - blk.start) // interval_ms, (a - blk.start) // interval_ms)
        return Candles.view(blk.cols, blk.index(t_from, interval_ms), blk.index(a, interval_ms))

    # ---- average price -------------------------------------------------------------
    def vwap(self, symbol: str, t: int) -> float:
        """Average price at ``t`` from the last N closed 1m candles (SPEC §2.9)."""
        a = t - t % MINUTE_MS
        k = a // self._minute_span
        last = self._last_vwap_block  # consecutive calls mostly hit the same final block
        if last is not None and last[0] == k and last[1] == symbol:
            blk = last[2]
        else:
            cached = self._blocks.get((symbol, "1m", k))
            blk = cached if cached is not None and cached.final else self.block(symbol, "1m", k)
            if blk.final:
                self._last_vwap_block = (k, symbol, blk)
        table = blk.vwap_table
        if table is None:
            if not blk.final:
                return self._vwap_direct(symbol, a)
            table = self._build_vwap_table(symbol, blk)
            if table is None:
                return self._vwap_direct(symbol, a)
        j = (a - blk.start) // MINUTE_MS
        count = table[1].item(j)  # .item(): a Python number straight from the array, no numpy scalar
        if count < self.n_avg:
            self._check_count(symbol, a, count)
        return table[0].item(j)

    def _build_vwap_table(self, symbol: str, blk: Block) -> tuple[np.ndarray, np.ndarray] | None:
        grid_start = blk.start - self.n_avg * MINUTE_MS
        try:
            cols = self.window(symbol, "1m", grid_start, blk.start + (self.block_size - 1) * MINUTE_MS)
        except CandleFetchError:
            return None  # an earlier block failed: compute minute by minute, which may not need it
        blk.vwap_table = vwap_table(cols, grid_start, self.block_size, self.n_avg)
        return blk.vwap_table

    def _vwap_direct(self, symbol: str, a: int) -> float:
        _, _, h, l, c, v = self.window(symbol, "1m", a - self.n_avg * MINUTE_MS, a)
        count = len(c)
        if count < self.n_avg:
            self._check_count(symbol, a, count)
        num = den = csum = 0.0
        for hi, lo, cl, vo in zip(h.tolist(), l.tolist(), c.tolist(), v.tolist()):
            num += ((hi + lo) + cl) / 3 * vo
            den += vo
            csum += cl
        return num / den if den != 0 else csum / count

    def _check_count(self, symbol: str, a: int, count: int) -> None:
        if count == 0:
            raise AveragePriceError(f"no candles data for symbol={symbol}")
        log.warning("average price for %s at %d uses %d of %d candles", symbol, a, count, self.n_avg)


def _prefetch_slice(slices: list[tuple[Block, int, int]]) -> Columns | None:
    """The window of ``slices`` (block, range inside it) as one view of a prefetch's columns when every block
    is a slice of the same prefetch and the ranges follow each other there; else None."""
    origins = [blk.origin for blk, _, _ in slices]
    base = origins[0]
    if base is None or any(o is None or o[0] is not base[0] for o in origins):
        return None
    starts = [o[1] + i0 for o, (_, i0, _) in zip(origins, slices)]  # type: ignore[index]
    ends = [o[1] + i1 for o, (_, _, i1) in zip(origins, slices)]  # type: ignore[index]
    if starts[1:] != ends[:-1]:
        return None
    return tuple(c[starts[0]:ends[-1]] for c in base[0])  # type: ignore[return-value]
