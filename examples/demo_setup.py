"""Demo setup: the synthetic exchange and three symbols. Importing this registers the schemas."""
from btk_core.exchanges import add_synthetic_exchange

SYMBOLS = ["BTCUSDT", "ETHUSDT", "SOLUSDT"]

add_synthetic_exchange("synthetic")
