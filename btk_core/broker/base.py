"""What btk needs from a broker: place an entry or an exit, cancel, look an order up by its client id, and read
the position and balances. ``PaperBroker`` simulates one; ``CcxtBroker`` talks to a real venue. The desk
(``desk.py``) turns the engine's notifications into these calls and keeps btk's own record of them."""
from __future__ import annotations

from abc import ABC, abstractmethod

from .orders import Order, OrderRequest


class BrokerRejected(Exception):
    """The venue refused the order for a reason a retry cannot heal (insufficient funds, below its minimum,
    an unknown market); the message says which, with the amounts."""


class BrokerUnavailable(Exception):
    """The venue could not be reached or kept refusing to answer (network, rate limits) after every retry."""


class Broker(ABC):
    """A venue for one live run's orders. Every method is keyed by btk's client order id, never the venue's, so
    a process that died between sending an order and writing its answer can find it again."""

    #: ``paper``, ``ccxt:<exchange id>``, ...: shown in logs and reports.
    name: str = "broker"
    #: True when a limit entry rests on the venue from the moment the engine schedules it (a real exchange);
    #: False when the broker fills it when the engine says it activated (paper).
    rests_limit_orders: bool = False
    #: The currency balances and sizes are counted in (``USDT`` ...).
    quote: str = "USDT"

    @abstractmethod
    def start(self, base_dir: str) -> None:
        """Connect, load markets, read a paper account from ``base_dir``; called before a run's first order."""

    @abstractmethod
    def place_entry(self, request: OrderRequest) -> Order:
        """Send an order that opens (or adds to) a position; returns the venue's view of it."""

    @abstractmethod
    def place_exit(self, request: OrderRequest) -> Order:
        """Send an order that closes (part of) a position; returns the venue's view of it."""

    @abstractmethod
    def cancel(self, client_id: str, symbol: str, venue_id: str | None = None) -> Order | None:
        """Cancel an open order (by the venue's id when known); its final view, or None when the venue does not
        know it."""

    @abstractmethod
    def fetch_order(self, client_id: str, symbol: str, venue_id: str | None = None) -> Order | None:
        """The venue's view of the order (looked up by the venue's id when known), or None when it never
        reached the venue."""

    @abstractmethod
    def fetch_open_orders(self, symbol: str) -> list[Order]:
        """The venue's open orders of ``symbol`` (any client id)."""

    @abstractmethod
    def fetch_position(self, symbol: str) -> float:
        """How much of the base currency of ``symbol`` the account holds (negative: a paper short)."""

    @abstractmethod
    def fetch_balance(self) -> dict[str, float]:
        """Total balance per currency."""

    def amount(self, symbol: str, amount: float, price: float) -> float:
        """``amount`` as the venue would accept it (its precision); paper keeps it as is."""
        return amount

    def min_notional(self, symbol: str) -> float:
        """The smallest order value the venue accepts for ``symbol``, in the quote currency (0: none)."""
        return 0.0
