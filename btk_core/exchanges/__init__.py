"""Built-in candle sources. Each registers itself with ``add_exchange`` like any user source.

``add_ccxt_exchange`` lives in ``btk_core.exchanges.ccxt`` (it imports ccxt, which is heavy).
"""
from .files import add_files_exchange, write_candles
from .memory import add_memory_exchange
from .synthetic import add_synthetic_exchange, synthetic_candles

__all__ = ["add_files_exchange", "add_memory_exchange", "add_synthetic_exchange", "synthetic_candles",
           "write_candles"]
