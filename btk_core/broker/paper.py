"""``PaperBroker``: a simulated account that fills at the engine's prices with its fees and slippage.

The account — balances and every order — is one value in the ``ledger`` store (the persistence adapters of
SPEC §9.7: a file by default, written atomically), so a paper account survives a kill like the pair's state:
an order is placed and its fill booked in the same write, and a restart finds it by its client id. A long
buys the base currency with the quote; a short sells base the account does not hold (the balance goes
negative) and needs the order's value in quote as collateral.
"""
from __future__ import annotations

import math
from typing import Any

from .. import clock
from ..persist import PersistBase, open_store
from .base import Broker, BrokerRejected
from .orders import Order, OrderRequest

#: Final orders kept in the account (open ones are always kept): a paper account running for months stays small.
KEPT_FINAL_ORDERS = 5000


def base_currency(symbol: str, quote: str) -> str:
    """``BTC`` of ``BTC/USDT``, ``BTCUSDT`` (quote ``USDT``) or ``BTC/USDT:USDT``."""
    if "/" in symbol:
        return symbol.split("/")[0]
    return symbol[: -len(quote)] if symbol.endswith(quote) and len(symbol) > len(quote) else symbol


class PaperBroker(Broker):
    """Paper trading (the default broker of live runs): ``balance`` of ``quote`` to start from, kept across
    runs under ``account`` in the ``ledger`` store."""

    rests_limit_orders = False

    def __init__(self, balance: float = 10_000.0, *, quote: str = "USDT", account: str = "paper",
                 fee_percent: float | None = None, slippage_percent: float | None = None) -> None:
        if isinstance(balance, bool) or not isinstance(balance, (int, float)) or not math.isfinite(balance) \
                or balance <= 0:
            raise ValueError(f"paper balance must be a positive number, got {balance!r}")
        self.name = "paper"
        self.quote, self.account, self.initial = quote, account, float(balance)
        self.fee_percent, self.slippage_percent = fee_percent, slippage_percent
        self._store: PersistBase | None = None
        self._state: dict[str, Any] = {}

    @classmethod
    def for_pair(cls, symbol: str, strategy_name: str, balance: float = 10_000.0) -> PaperBroker:
        """The default paper account of a live pair: its own balance, so pairs never share (or race on) one."""
        return cls(balance, account=f"{symbol}--{strategy_name}")

    # ---- the account --------------------------------------------------------------------
    def start(self, base_dir: str) -> None:
        from ..config import snapshot
        cfg = snapshot()
        if self.fee_percent is None:
            self.fee_percent = cfg.CC_PERCENT_FEE
        if self.slippage_percent is None:
            self.slippage_percent = cfg.CC_PERCENT_SLIPPAGE
        self._store = open_store("ledger", "paper", base_dir)
        stored = self._store.read_value(self.account)
        if isinstance(stored, dict) and isinstance(stored.get("balances"), dict) and isinstance(
                stored.get("orders"), dict):
            self._state = stored
        else:
            self._state = {"quote": self.quote, "initial": self.initial, "balances": {self.quote: self.initial},
                           "orders": {}}

    def _save(self, state: dict[str, Any]) -> None:
        assert self._store is not None, "PaperBroker.start was not called"
        orders = state["orders"]
        final = [cid for cid, o in orders.items() if o["status"] != "open"]
        for cid in final[: max(0, len(final) - KEPT_FINAL_ORDERS)]:
            del orders[cid]
        self._store.write_value(self.account, state)  # the order and its fill, in one atomic write
        self._state = state

    # ---- orders ---------------------------------------------------------------------------
    def _fill(self, request: OrderRequest) -> Order:
        """Fill the whole order at the engine's price moved by the slippage, fee on its value, or reject it."""
        if request.client_id in self._state["orders"]:
            return Order.from_json(self._state["orders"][request.client_id])
        if not (math.isfinite(request.amount) and request.amount > 0):
            raise BrokerRejected(f"amount must be positive, got {request.amount!r}")
        s = (self.slippage_percent or 0.0) / 100
        price = request.reference_price * (1 + s if request.side == "buy" else 1 - s)
        cost = request.amount * price
        fee = cost * (self.fee_percent or 0.0) / 100
        balances = dict(self._state["balances"])
        base = base_currency(request.symbol, self.quote)
        quote_free, held = balances.get(self.quote, 0.0), balances.get(base, 0.0)
        if request.side == "buy" and cost + fee > quote_free + 1e-9:
            raise BrokerRejected(f"insufficient funds: buying {request.amount:g} {base} needs {cost + fee:.2f} "
                                 f"{self.quote}, the paper account has {quote_free:.2f}")
        if request.side == "sell" and request.purpose == "exit" and request.amount > held + 1e-12:
            raise BrokerRejected(f"insufficient funds: selling {request.amount:g} {base}, the paper account holds "
                                 f"{held:g}")
        if request.side == "sell" and request.purpose == "entry" and cost > quote_free + 1e-9:
            raise BrokerRejected(f"insufficient funds: a short of {request.amount:g} {base} needs {cost:.2f} "
                                 f"{self.quote} of collateral, the paper account has {quote_free:.2f}")
        sign = 1 if request.side == "buy" else -1
        balances[base] = held + sign * request.amount
        balances[self.quote] = quote_free - sign * cost - fee
        now = clock.now()
        order = Order.from_request(request, now)
        order.status, order.filled, order.average, order.cost = "closed", request.amount, price, cost
        order.fee, order.fee_currency, order.venue_id = fee, self.quote, request.client_id
        order.fills = [{"at": now, "amount": request.amount, "price": price, "fee": fee}]
        self._save({**self._state, "balances": balances,
                    "orders": {**self._state["orders"], request.client_id: order.to_json()}})
        return order

    def place_entry(self, request: OrderRequest) -> Order:
        return self._fill(request)

    def place_exit(self, request: OrderRequest) -> Order:
        return self._fill(request)

    def cancel(self, client_id: str, symbol: str, venue_id: str | None = None) -> Order | None:
        return self.fetch_order(client_id, symbol)  # paper orders fill at once: nothing is ever left to cancel

    def fetch_order(self, client_id: str, symbol: str, venue_id: str | None = None) -> Order | None:
        data = self._state["orders"].get(client_id)
        return None if data is None else Order.from_json(data)

    def fetch_open_orders(self, symbol: str) -> list[Order]:
        return []

    def fetch_position(self, symbol: str) -> float:
        return float(self._state["balances"].get(base_currency(symbol, self.quote), 0.0))

    def fetch_balance(self) -> dict[str, float]:
        return {k: float(v) for k, v in self._state["balances"].items()}
