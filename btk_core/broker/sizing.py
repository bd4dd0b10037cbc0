"""How much an entry buys: a stake of the balance by default, or a registered ``PositionSize`` method.

The amount of an entry is decided once, when its order is first written to the desk's book, so a repeated
notification or a restart never changes it.
"""
from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from typing import Any

from ..registry import lookup
from ..signals import SignalRow
from ..sizing import PositionSize

log = logging.getLogger("btk")
ATR_PERIOD = 14
#: Kelly needs a history: until the pair has this many closed round trips with wins and losses, the stake is used.
KELLY_MIN_TRADES = 10


@dataclass(frozen=True)
class EntrySizing:
    """``sizing_name`` of a registered sizing schema (fixed percentage, Kelly, ATR), or None for
    ``stake_percentage`` of the quote balance per entry."""

    stake_percentage: float = 10.0
    sizing_name: str | None = None

    def __post_init__(self) -> None:
        s = self.stake_percentage
        if isinstance(s, bool) or not isinstance(s, (int, float)) or not math.isfinite(s) or not 0 < s <= 100:
            raise ValueError(f"stake_percentage must be in (0, 100], got {s!r}")
        if self.sizing_name is not None:
            lookup("sizing", self.sizing_name)

    def amount(self, row: SignalRow, price: float, balance: float, trades: list[dict[str, Any]],
               interval: str) -> float:
        """Base units to buy or sell for ``row`` entered at ``price`` with ``balance`` of quote."""
        stake = balance * self.stake_percentage / 100 / price
        if self.sizing_name is None:
            return stake
        method = lookup("sizing", self.sizing_name).method
        if method == "fixed-percentage":
            return PositionSize.fixed_percentage(row.symbol, balance, price, row.price_stop_loss,
                                                 sizing_name=self.sizing_name)
        if method == "atr-based":
            return PositionSize.atr_based(row.symbol, balance, price, _atr(row.symbol, interval),
                                          sizing_name=self.sizing_name)
        wins = [t["pnl"] for t in trades if t["pnl"] > 0]
        losses = [-t["pnl"] for t in trades if t["pnl"] < 0]
        if len(trades) < KELLY_MIN_TRADES or not wins or not losses:
            log.info("kelly sizing of %s: %d closed trades so far (needs %d with wins and losses); using the "
                     "%g %% stake", row.symbol, len(trades), KELLY_MIN_TRADES, self.stake_percentage)
            return stake
        ratio = (sum(wins) / len(wins)) / (sum(losses) / len(losses))
        return PositionSize.kelly_criterion(row.symbol, balance, price, len(wins) / len(trades), ratio,
                                            sizing_name=self.sizing_name)


def _atr(symbol: str, interval: str) -> float:
    """Mean true range of the last ``ATR_PERIOD`` closed candles of the strategy's interval."""
    from ..context import get_candles
    c = get_candles(symbol, interval, ATR_PERIOD + 1)
    high, low, close = c.high[1:], c.low[1:], c.close[:-1]
    true_range = [max(h - lo, abs(h - pc), abs(lo - pc)) for h, lo, pc in zip(high, low, close)]
    return sum(true_range) / len(true_range) if true_range else 0.0
