"""Net PnL of a trade with slippage and fees on both sides (SPEC §6)."""
from __future__ import annotations

from .results import Pnl


def compute_pnl(position: str, price_open: float, price_close: float, *, fee_percent: float,
                slippage_percent: float) -> Pnl:
    """``pnl_percentage`` exactly as §6 writes it (the operation order matters for the last bits)."""
    s = slippage_percent / 100
    f = fee_percent
    if position == "long":
        open_adj = price_open * (1 + s)
        close_adj = price_close * (1 - s)
        pct = (close_adj - open_adj) / open_adj * 100 - 2 * f
    else:
        open_adj = price_open * (1 - s)
        close_adj = price_close * (1 + s)
        pct = (open_adj - close_adj) / open_adj * 100 - 2 * f
    return Pnl(pct, price_open, price_close)
