"""``btk demo``: what btk does, on the embedded synthetic exchange, with nothing to download."""
from __future__ import annotations

from pathlib import Path

DEMO_SETUP = Path(__file__).resolve().parent.parent / "examples" / "demo_setup.py"


def main(report_dir: str = "./dump", setup: str | None = None) -> int:
    from btk_core import fmt
    from btk_core.candle_store import CandleStore
    from btk_core.config import snapshot
    from btk_core.registry import lookup
    from flows.setup_loader import load_setup

    module = load_setup(str(setup or DEMO_SETUP))
    when = 1717243200000  # 2024-06-01T12:00Z
    store = CandleStore(lookup("exchange", "synthetic"), snapshot())
    for symbol in module.SYMBOLS:
        candles = store.last_closed(symbol, "1h", 3, when)
        print(f"{symbol}: average price at {fmt.iso(when)} = {store.vwap(symbol, when):.2f}")
        for c in candles:
            print(f"  {fmt.iso(c.timestamp)} O {c.open:.2f} H {c.high:.2f} L {c.low:.2f} C {c.close:.2f} "
                  f"V {c.volume:.2f}")
    return 0
