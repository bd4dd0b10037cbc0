"""``CcxtBroker``: orders on a real venue through ccxt.

Entries are market orders, or limit orders resting on the venue from the moment the engine schedules them;
exits are market orders sent when the engine closes the position (take profit, stop loss, expiry: the engine's
candles decide, the same as in a backtest; no venue-side stop order is placed, so a position is only protected
while the live run runs). Every order carries btk's client order id (``clientOrderId``), amounts and prices are
rounded with the market's precision and checked against its minimums before anything is sent. Network errors
and rate limits are retried with exponential backoff; a create that failed on the network is first looked up by
its client id, so a retry never doubles an order. Credentials come only from the environment
(``BTK_CCXT_API_KEY``, ``BTK_CCXT_SECRET``, ``BTK_CCXT_PASSWORD``) and are never written to state or logs.
``dry_run=True`` rounds and checks every order like a real one, then fills it on a paper account instead of
sending it.

Spot markets: a short needs a margin or derivatives account, which this broker does not manage; a short entry
is rejected with that reason.
"""
from __future__ import annotations

import logging
import os
from collections.abc import Callable
from dataclasses import replace
from typing import Any, TypeVar

from .. import clock
from .base import Broker, BrokerRejected, BrokerUnavailable
from .orders import Order, OrderRequest
from .paper import PaperBroker

log = logging.getLogger("btk")
T = TypeVar("T")
CREDENTIALS = {"apiKey": "BTK_CCXT_API_KEY", "secret": "BTK_CCXT_SECRET", "password": "BTK_CCXT_PASSWORD"}
_STATUSES = {"open": "open", "closed": "closed", "canceled": "canceled", "cancelled": "canceled",
             "expired": "canceled", "rejected": "rejected"}


def order_from_ccxt(data: dict[str, Any], request: OrderRequest | None = None) -> Order:
    """btk's view of a ccxt order structure."""
    fee = data.get("fee") or {}
    order = Order(client_id=data.get("clientOrderId") or (request.client_id if request else ""),
                  symbol=data.get("symbol") or (request.symbol if request else ""),
                  side=data.get("side") or (request.side if request else "buy"),
                  type=data.get("type") or (request.type if request else "market"),
                  amount=float(data.get("amount") or (request.amount if request else 0.0)),
                  price=data.get("price") if data.get("type") == "limit" else None,
                  purpose=request.purpose if request else "entry",
                  signal_id=request.signal_id if request else "", delivery_id=request.delivery_id if request else "",
                  status=_STATUSES.get(str(data.get("status")), "open"),  # type: ignore[arg-type]
                  filled=float(data.get("filled") or 0.0), average=data.get("average"),
                  cost=float(data.get("cost") or 0.0), fee=float(fee.get("cost") or 0.0),
                  fee_currency=fee.get("currency") or "", venue_id=str(data.get("id")) if data.get("id") else None,
                  created_at=int(data.get("timestamp") or clock.now()), updated_at=clock.now())
    order.fills = [{"at": t.get("timestamp"), "amount": t.get("amount"), "price": t.get("price"),
                    "fee": (t.get("fee") or {}).get("cost")} for t in data.get("trades") or []]
    return order


class CcxtBroker(Broker):
    """Orders on ``exchange`` (a ccxt exchange object, e.g. the one the pair reads candles from) or on a new
    ``exchange_id`` instance; ``config`` is passed to ccxt (never credentials: those come from the
    environment)."""

    rests_limit_orders = True

    def __init__(self, exchange: Any = None, exchange_id: str = "binance", *, config: dict[str, Any] | None = None,
                 dry_run: bool = False, retries: int = 4, backoff_s: float = 0.5, quote: str = "USDT") -> None:
        if config and set(config) & set(CREDENTIALS):
            raise ValueError("credentials come only from the environment "
                             f"({', '.join(CREDENTIALS.values())}), not from config")
        self._exchange, self.exchange_id, self.config = exchange, exchange_id, dict(config or {})
        self.dry_run, self.retries, self.backoff_s, self.quote = dry_run, retries, backoff_s, quote
        self.name = f"ccxt:{getattr(exchange, 'id', exchange_id)}" + (" (dry run)" if dry_run else "")
        self._paper: PaperBroker | None = None
        if dry_run:
            self.rests_limit_orders = False

    @property
    def exchange(self) -> Any:
        assert self._exchange is not None, "CcxtBroker.start was not called"
        return self._exchange

    def start(self, base_dir: str) -> None:
        import ccxt
        if self._exchange is None:
            if self.exchange_id not in ccxt.exchanges:
                raise ValueError(f"unknown ccxt exchange id {self.exchange_id!r}")
            self._exchange = getattr(ccxt, self.exchange_id)({"enableRateLimit": True, **self.config})
        for attribute, variable in CREDENTIALS.items():
            value = os.environ.get(variable)
            if value:
                setattr(self._exchange, attribute, value)
        if not self.dry_run and not self._exchange.apiKey:
            raise BrokerRejected(f"the ccxt broker needs credentials: set {CREDENTIALS['apiKey']} and "
                                 f"{CREDENTIALS['secret']} in the environment (or use dry_run / the paper broker)")
        self._call("load_markets", self._exchange.load_markets)
        if self.dry_run:
            self._paper = PaperBroker(account=f"dry-{self._exchange.id}", quote=self.quote)
            self._paper.start(base_dir)

    # ---- the venue, with retries ----------------------------------------------------------
    def _call(self, what: str, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """``fn(*args)``; network errors and rate limits retried with backoff, refusals raised as
        ``BrokerRejected``."""
        import ccxt
        for attempt in range(self.retries + 1):
            try:
                return fn(*args, **kwargs)
            except _refusals(ccxt) as exc:
                raise BrokerRejected(f"{self.exchange.id} refused {what}: {type(exc).__name__}: {_short(exc)}") from exc
            except (ccxt.NetworkError, ccxt.ExchangeNotAvailable) as exc:
                if attempt == self.retries:
                    raise BrokerUnavailable(f"{self.exchange.id} {what} failed {attempt + 1} times: "
                                            f"{type(exc).__name__}: {_short(exc)}") from exc
                delay = self.backoff_s * 2 ** attempt
                log.warning("%s %s failed (%s); retrying in %.2fs", self.exchange.id, what, type(exc).__name__, delay)
                clock.pause(delay)
        raise AssertionError("unreachable")

    def _market(self, symbol: str) -> dict[str, Any]:
        try:
            return self.exchange.market(symbol)
        except Exception as exc:
            raise BrokerRejected(f"{self.exchange.id} has no market {symbol!r}") from exc

    def amount(self, symbol: str, amount: float, price: float) -> float:
        return float(self.exchange.amount_to_precision(self._market(symbol)["symbol"], amount))

    def min_notional(self, symbol: str) -> float:
        limits = self._market(symbol).get("limits") or {}
        return float((limits.get("cost") or {}).get("min") or 0.0)

    def _checked(self, request: OrderRequest) -> tuple[str, float, float | None]:
        """The market symbol, amount and price as the venue accepts them, or ``BrokerRejected`` naming the
        minimum that is not met (nothing is sent)."""
        market = self._market(request.symbol)
        symbol = market["symbol"]
        if market.get("spot") and request.side == "sell" and request.purpose == "entry":
            raise BrokerRejected(f"a short on the spot market {symbol} needs a margin account, which the ccxt "
                                 "broker does not manage")
        amount = float(self.exchange.amount_to_precision(symbol, request.amount))
        price = float(self.exchange.price_to_precision(symbol, request.price)) if request.price is not None else None
        limits = market.get("limits") or {}
        min_amount = (limits.get("amount") or {}).get("min")
        if amount <= 0 or (min_amount and amount < min_amount):
            raise BrokerRejected(f"below the minimum: {request.amount:g} {market['base']} rounds to {amount:g}, "
                                 f"{symbol} needs at least {min_amount or 0:g}")
        min_cost = (limits.get("cost") or {}).get("min")
        value = amount * (price or request.reference_price)
        if min_cost and value < min_cost:
            raise BrokerRejected(f"below the minimum: {value:.2f} {market['quote']} of {symbol}, the venue needs "
                                 f"at least {min_cost:g}")
        return symbol, amount, price

    def _place(self, request: OrderRequest) -> Order:
        import ccxt
        symbol, amount, price = self._checked(request)
        if self._paper is not None:
            log.info("dry run: %s %s %g %s (%s)", request.type, request.side, amount, symbol, request.client_id)
            checked = replace(request, symbol=symbol, amount=amount)
            return self._paper.place_entry(checked) if request.purpose == "entry" else self._paper.place_exit(checked)
        for attempt in range(self.retries + 1):
            try:
                data = self.exchange.create_order(symbol, request.type, request.side, amount, price,
                                                  {"clientOrderId": request.client_id})
                return order_from_ccxt(data, request)
            except ccxt.InvalidOrder as exc:
                if "uplicate" in str(exc):  # the venue already has this client id: a previous attempt got there
                    found = self.fetch_order(request.client_id, symbol)
                    if found is not None:
                        return found
                raise BrokerRejected(f"{self.exchange.id} refused {request.side} {amount:g} {symbol}: "
                                     f"{type(exc).__name__}: {_short(exc)}") from exc
            except _refusals(ccxt) as exc:
                raise BrokerRejected(f"{self.exchange.id} refused {request.side} {amount:g} {symbol}: "
                                     f"{type(exc).__name__}: {_short(exc)}") from exc
            except (ccxt.NetworkError, ccxt.ExchangeNotAvailable) as exc:
                found = self.fetch_order(request.client_id, symbol)  # did it arrive before the error?
                if found is not None:
                    return found
                if attempt == self.retries:
                    raise BrokerUnavailable(f"{self.exchange.id} create order failed {attempt + 1} times: "
                                            f"{type(exc).__name__}: {_short(exc)}") from exc
                delay = self.backoff_s * 2 ** attempt
                log.warning("%s create order %s failed (%s); retrying in %.2fs", self.exchange.id,
                            request.client_id, type(exc).__name__, delay)
                clock.pause(delay)
        raise AssertionError("unreachable")

    # ---- the Broker interface --------------------------------------------------------------
    def place_entry(self, request: OrderRequest) -> Order:
        return self._place(request)

    def place_exit(self, request: OrderRequest) -> Order:
        return self._place(request)

    def fetch_order(self, client_id: str, symbol: str, venue_id: str | None = None) -> Order | None:
        """By the venue's id when btk has heard it, else by client id (``clientOrderId``); a venue that cannot look
        orders up that way is searched through its open and recent closed orders."""
        import ccxt
        if self._paper is not None:
            return self._paper.fetch_order(client_id, symbol)
        market_symbol = self._market(symbol)["symbol"]
        try:
            data = self._call("fetch order", self.exchange.fetch_order, venue_id, market_symbol,
                              {} if venue_id else {"clientOrderId": client_id})
        except BrokerRejected as exc:
            if isinstance(exc.__cause__, ccxt.OrderNotFound):
                return None
            if not isinstance(exc.__cause__, (ccxt.ArgumentsRequired, ccxt.NotSupported, ccxt.BadRequest)):
                raise
            return self._search(client_id, market_symbol)
        return order_from_ccxt(data)

    def _search(self, client_id: str, symbol: str) -> Order | None:
        found = [o for o in self._call("fetch open orders", self.exchange.fetch_open_orders, symbol)
                 if o.get("clientOrderId") == client_id]
        if not found and self.exchange.has.get("fetchClosedOrders"):
            found = [o for o in self._call("fetch closed orders", self.exchange.fetch_closed_orders, symbol,
                                           None, 500) if o.get("clientOrderId") == client_id]
        return order_from_ccxt(found[-1]) if found else None

    def cancel(self, client_id: str, symbol: str, venue_id: str | None = None) -> Order | None:
        import ccxt
        if self._paper is not None:
            return self._paper.cancel(client_id, symbol)
        market_symbol = self._market(symbol)["symbol"]
        try:
            self._call("cancel order", self.exchange.cancel_order, venue_id, market_symbol,
                       {} if venue_id else {"clientOrderId": client_id})
        except BrokerRejected as exc:
            if not isinstance(exc.__cause__, ccxt.OrderNotFound):
                raise
        return self.fetch_order(client_id, symbol, venue_id)

    def fetch_open_orders(self, symbol: str) -> list[Order]:
        if self._paper is not None:
            return []
        market_symbol = self._market(symbol)["symbol"]
        return [order_from_ccxt(o) for o in self._call("fetch open orders", self.exchange.fetch_open_orders,
                                                       market_symbol)]

    def fetch_position(self, symbol: str) -> float:
        if self._paper is not None:
            return self._paper.fetch_position(symbol)
        base = self._market(symbol)["base"]
        return float(self.fetch_balance().get(base, 0.0))

    def fetch_balance(self) -> dict[str, float]:
        if self._paper is not None:
            return self._paper.fetch_balance()
        total = self._call("fetch balance", self.exchange.fetch_balance).get("total") or {}
        return {k: float(v) for k, v in total.items() if v}


def _refusals(ccxt: Any) -> tuple[type[Exception], ...]:
    """Errors a retry cannot heal: the order, the market or the account is wrong (a refused filter is a
    ``BadRequest``), or the venue cannot do what was asked."""
    return (ccxt.InsufficientFunds, ccxt.InvalidOrder, ccxt.BadRequest, ccxt.AuthenticationError,
            ccxt.PermissionDenied, ccxt.ArgumentsRequired, ccxt.NotSupported)


def _short(exc: Exception) -> str:
    text = str(exc)
    return text if len(text) <= 200 else text[:197] + "..."
