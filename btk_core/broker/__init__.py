"""Orders, not only signals: the broker layer of live runs (paper trading by default, real venues via ccxt).

``Live.run(..., broker=...)`` takes ``"paper"`` (the default: a paper account per pair, 10 000 USDT to start
from), ``"ccxt"`` (orders on the ccxt exchange the pair reads its candles from; credentials from the
environment), ``"ccxt-dry"`` (the same, rounded and checked, filled on paper), ``"none"`` (signals only), or a
``Broker`` object. See docs/broker.md.
"""
from __future__ import annotations

from typing import Any

from .base import Broker, BrokerRejected, BrokerUnavailable
from .ccxt_broker import CcxtBroker
from .desk import OrderDesk
from .orders import BrokerEvent, Order, OrderRequest, client_order_id
from .paper import PaperBroker
from .sizing import EntrySizing

BROKER_NAMES = ("paper", "ccxt", "ccxt-dry", "none")
__all__ = ["BROKER_NAMES", "Broker", "BrokerEvent", "BrokerRejected", "BrokerUnavailable", "CcxtBroker",
           "EntrySizing", "Order", "OrderDesk", "OrderRequest", "PaperBroker", "client_order_id", "make_broker"]


def make_broker(spec: Broker | str | None, *, symbol: str, strategy_name: str, exchange: Any) -> Broker | None:
    """The broker of one live run from what the user chose; ``ValueError`` names a choice that cannot work
    (before the run takes its lock or touches the network)."""
    if spec is None or spec == "none":
        return None
    if isinstance(spec, Broker):
        return spec
    if spec == "paper":
        return PaperBroker.for_pair(symbol, strategy_name)
    if spec in ("ccxt", "ccxt-dry"):
        venue = getattr(exchange.get_candles, "exchange", None)
        if venue is None:
            raise ValueError(f"broker {spec!r} trades on the pair's ccxt exchange, but exchange "
                             f"{exchange.exchange_name!r} is not a ccxt exchange (register it with "
                             "add_ccxt_exchange, or pass a CcxtBroker)")
        return CcxtBroker(venue, dry_run=spec == "ccxt-dry")
    raise ValueError(f"broker must be one of {list(BROKER_NAMES)} or a Broker, got {spec!r}")
