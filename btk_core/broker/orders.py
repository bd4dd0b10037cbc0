"""Orders as btk records them: what was asked, what the venue answered, and the ids that make a repeat harmless.

A client order id is derived from the notification that asked for the order (its ``delivery_id``, SPEC §20.2)
and the pair, so a notification delivered again after a restart asks for the same id: the desk finds the order
it already placed instead of placing a second one. Ids fit every venue we know (at most 32 characters of
``[a-z0-9-]``; Binance allows 36).
"""
from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass, field, fields
from typing import Any, Literal

Side = Literal["buy", "sell"]
OrderType = Literal["market", "limit"]
Purpose = Literal["entry", "exit"]
#: ``intent``: written before it is sent (a kill after this is resolved by asking the venue for its client id);
#: ``open``: the venue has it, not completely filled; ``closed``: completely filled; ``canceled``: the venue
#: ended it (what was filled stays filled); ``rejected``: the venue refused it (insufficient funds, below the
#: minimum); ``failed``: never reached the venue after every retry (tried again at the next tick).
OrderStatus = Literal["intent", "open", "closed", "canceled", "rejected", "failed"]
FINAL_STATUSES = frozenset({"closed", "canceled", "rejected"})
CLIENT_ID_PREFIX = "btk"


def pair_tag(symbol: str, strategy_name: str) -> str:
    """Six hex characters naming the pair inside its client ids, so a desk recognises its own orders on a
    venue account several pairs share."""
    return hashlib.sha256(f"{symbol}|{strategy_name}".encode()).hexdigest()[:6]


def client_order_id(symbol: str, strategy_name: str, delivery_id: str, leg: int = 0) -> str:
    """``btk-<pair tag>-<20 hex of the delivery id and leg>``: the same notification always asks for the same
    id (``leg`` numbers the further orders one notification may need, e.g. the rest of a partial fill)."""
    digest = hashlib.sha256(f"{delivery_id}#{leg}".encode()).hexdigest()[:20]
    return f"{CLIENT_ID_PREFIX}-{pair_tag(symbol, strategy_name)}-{digest}"


def pair_prefix(symbol: str, strategy_name: str) -> str:
    return f"{CLIENT_ID_PREFIX}-{pair_tag(symbol, strategy_name)}-"


@dataclass(frozen=True)
class OrderRequest:
    """An order btk wants: ``reference_price`` is the engine's price for it (paper fills there; a venue
    checks its minimum notional against it; a limit order's ``price``)."""

    client_id: str
    symbol: str
    side: Side
    type: OrderType
    amount: float
    reference_price: float
    price: float | None = None
    purpose: Purpose = "entry"
    signal_id: str = ""
    delivery_id: str = ""


@dataclass
class Order:
    """An order as btk knows it. ``filled`` is in base units; ``average`` is the mean fill price; ``fee`` is in
    ``fee_currency``; ``cost`` is filled x average in the quote currency."""

    client_id: str
    symbol: str
    side: Side
    type: OrderType
    amount: float
    price: float | None
    purpose: Purpose
    signal_id: str
    delivery_id: str
    reference_price: float = 0.0
    status: OrderStatus = "intent"
    filled: float = 0.0
    average: float | None = None
    cost: float = 0.0
    fee: float = 0.0
    fee_currency: str = ""
    venue_id: str | None = None
    created_at: int = 0
    updated_at: int = 0
    error: str | None = None
    fills: list[dict[str, Any]] = field(default_factory=list)

    @classmethod
    def from_request(cls, request: OrderRequest, at: int) -> Order:
        return cls(request.client_id, request.symbol, request.side, request.type, request.amount, request.price,
                   request.purpose, request.signal_id, request.delivery_id, request.reference_price, created_at=at,
                   updated_at=at)

    def request(self) -> OrderRequest:
        """The request this order was written for (sent again when it never reached the venue)."""
        return OrderRequest(self.client_id, self.symbol, self.side, self.type, self.amount, self.reference_price,
                            self.price, self.purpose, self.signal_id, self.delivery_id)

    @property
    def final(self) -> bool:
        return self.status in FINAL_STATUSES

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: Any) -> Order:
        """An order back from the ledger; ``ValueError`` names what is missing."""
        if not isinstance(data, dict):
            raise ValueError(f"an order must be a JSON object, got {type(data).__name__}")
        names = {f.name for f in fields(cls)}
        missing = [n for n in ("client_id", "symbol", "side", "type", "amount") if n not in data]
        if missing:
            raise ValueError(f"order {data.get('client_id', '?')} lacks {missing[0]!r}")
        return cls(**{k: v for k, v in data.items() if k in names})

    def absorb(self, venue: Order) -> bool:
        """Take what the venue says about this order (status, fills, ids); True when something changed."""
        before = (self.status, self.filled, self.average, self.fee, self.venue_id)
        self.status, self.filled, self.average = venue.status, venue.filled, venue.average
        self.cost, self.fee, self.fee_currency = venue.cost, venue.fee, venue.fee_currency or self.fee_currency
        self.venue_id = venue.venue_id or self.venue_id
        self.fills = venue.fills or self.fills
        self.error = venue.error
        self.updated_at = venue.updated_at or self.updated_at
        return before != (self.status, self.filled, self.average, self.fee, self.venue_id)


BrokerEventKind = Literal["placed", "filled", "cancelled", "rejected", "failed", "adopted", "mismatch"]


@dataclass(frozen=True)
class BrokerEvent:
    """Something the desk did or found (``listen_broker``): an order placed, filled, cancelled, rejected or
    failed, an order adopted from the venue after a restart, or a mismatch between btk and the venue and what
    was done about it (``detail``, in words)."""

    kind: BrokerEventKind
    symbol: str
    strategy_name: str
    broker: str
    detail: str
    timestamp: int
    client_id: str | None = None
    signal_id: str | None = None
