"""The order desk of one live pair: turns the engine's notifications into broker orders, exactly once.

Live delivers every notification at least once (SPEC §20.2); the desk makes each delivery idempotent. Every
order is written to the pair's book (the ``ledger`` store, atomic writes) as an *intent* before it is sent, with
a client order id derived from the notification's ``delivery_id``; the venue's answer is written after. So
whatever instant a process dies at, the restart finds the order: in the book, and if the book never heard the
answer, on the venue by its client id — a repeated delivery or a restart never places a second order.

What a notification asks for:
- ``scheduled``: a limit entry at the row's entry price, on brokers where limit orders rest on the venue;
- ``opened``: the entry (a market order; for a scheduled row, whatever its resting limit order has not filled);
- ``cancelled``: cancel the resting limit entry, sell back what it had filled;
- ``closed``: exit everything the signal's entries filled (a market order; the rest of a partial fill is sent
  again at the next tick);
- partial milestones: nothing (they are reported, not traded).

At start, ``reconcile`` compares the book with the venue and the engine's restored position: an order the book
never heard back from is looked up and adopted or sent, an unknown order of this pair on the venue is cancelled,
a position the engine no longer holds is closed, a venue holding less than btk expects is reported. Each such
mismatch is a ``mismatch`` event (``listen_broker``), a log line and a line of the live and ledger reports —
never a silent divergence.
"""
from __future__ import annotations

import logging
import threading
from typing import Any

from .. import clock, events
from ..events import emit_error
from ..fmt import short_price
from ..notices import Notice
from ..persist import open_store
from ..signals import SignalRow
from .base import Broker, BrokerRejected
from .orders import BrokerEvent, Order, OrderRequest, client_order_id, pair_prefix
from .sizing import EntrySizing

log = logging.getLogger("btk")
#: An exit that keeps filling partially is sent again at most this many times.
MAX_EXIT_LEGS = 5
KEPT_MISMATCHES = 50
KEPT_TRADES = 1000


class OrderDesk:
    """Orders of ``symbol``/``strategy_name`` on ``broker``; the book lives under ``base_dir``."""

    def __init__(self, broker: Broker, *, symbol: str, strategy_name: str, interval: str, base_dir: str,
                 sizing: EntrySizing | None = None) -> None:
        self.broker, self.symbol, self.strategy_name, self.interval = broker, symbol, strategy_name, interval
        self.sizing = sizing or EntrySizing()
        self._store = open_store("ledger", "desk", base_dir)
        self._key = f"{symbol}--{strategy_name}"
        self._lock = threading.RLock()
        stored = self._store.read_value(self._key)
        book = stored if isinstance(stored, dict) else {}
        self.orders: dict[str, Order] = {cid: Order.from_json(o) for cid, o in (book.get("orders") or {}).items()}
        self.trades: list[dict[str, Any]] = list(book.get("trades") or [])
        self.mismatches: list[dict[str, Any]] = list(book.get("mismatches") or [])

    # ---- the book ------------------------------------------------------------------------
    def _save(self) -> None:
        self._store.write_value(self._key, {"broker": self.broker.name,
                                            "orders": {cid: o.to_json() for cid, o in self.orders.items()},
                                            "trades": self.trades[-KEPT_TRADES:],
                                            "mismatches": self.mismatches[-KEPT_MISMATCHES:]})

    def _event(self, kind: str, detail: str, order: Order | None = None, signal_id: str | None = None) -> None:
        event = BrokerEvent(kind, self.symbol, self.strategy_name, self.broker.name, detail,  # type: ignore[arg-type]
                            clock.now(), order.client_id if order else None,
                            order.signal_id if order else signal_id)
        level = logging.WARNING if kind in ("rejected", "failed", "mismatch") else logging.INFO
        log.log(level, "broker %s %s %s: %s", self.broker.name, self.symbol, kind, detail)
        if events.broker.listeners:
            events.broker.emit(event)

    def _mismatch(self, detail: str, signal_id: str | None = None) -> None:
        """Record, log and emit a difference with the venue (once: a repeated delivery finds it recorded)."""
        if any(m["detail"] == detail and m["signal_id"] == signal_id for m in self.mismatches):
            return
        self.mismatches.append({"at": clock.now(), "detail": detail, "signal_id": signal_id})
        self._save()
        self._event("mismatch", detail, signal_id=signal_id)

    def _for_signal(self, signal_id: str, purpose: str | None = None) -> list[Order]:
        return [o for o in self.orders.values()
                if o.signal_id == signal_id and (purpose is None or o.purpose == purpose)]

    def held(self, signal_id: str) -> float:
        """Base units the signal's entries filled minus what its exits filled."""
        entries = sum(o.filled for o in self._for_signal(signal_id, "entry"))
        return entries - sum(o.filled for o in self._for_signal(signal_id, "exit"))

    # ---- sending, exactly once -------------------------------------------------------------
    def _send(self, request: OrderRequest) -> Order:
        """Send ``request`` unless its client id was already sent: intent written first, answer after."""
        order = self.orders.get(request.client_id)
        if order is not None and order.status not in ("intent", "failed"):
            return order
        if order is None:
            order = Order.from_request(request, clock.now())
            self.orders[order.client_id] = order
            self._save()  # the intent: a kill from here on is resolved by the client id
        else:
            found = self._adopt(order)
            if found is not False:  # adopted, or the venue could not say: never send blind (next tick)
                return order
        place = self.broker.place_entry if request.purpose == "entry" else self.broker.place_exit
        try:
            answer = place(order.request())
        except BrokerRejected as exc:
            order.status, order.error, order.updated_at = "rejected", str(exc), clock.now()
            self._save()
            self._event("rejected", f"{_what(order)}: {exc}", order)
            return order
        except Exception as exc:  # the venue is unreachable (retried already) or the broker failed: next tick
            order.status, order.error, order.updated_at = "failed", f"{type(exc).__name__}: {exc}", clock.now()
            self._save()
            self._event("failed", f"{_what(order)}: {order.error}; tried again at the next tick", order)
            return order
        order.absorb(answer)
        self._save()
        self._event("filled" if order.status == "closed" else "placed", _what(order), order)
        return order

    def _adopt(self, order: Order) -> bool | None:
        """An order the book wrote but never heard back from: take the venue's view if it has one. True:
        adopted; False: the venue does not have it; None: the venue could not be asked (the order is then
        never sent: it might be there)."""
        try:
            venue = self.broker.fetch_order(order.client_id, order.symbol)
        except Exception as exc:
            order.status, order.error = "failed", f"could not look it up: {type(exc).__name__}: {exc}"
            log.warning("broker %s: could not look up %s: %s", self.broker.name, order.client_id, exc)
            return None
        if venue is None:
            return False
        order.absorb(venue)
        self._save()
        self._event("adopted", f"{_what(order)}: found on the venue after a restart", order)
        return True

    def _refresh(self, order: Order) -> None:
        if order.final or order.status in ("intent", "failed"):
            return
        try:
            venue = self.broker.fetch_order(order.client_id, order.symbol, order.venue_id)
        except Exception as exc:
            log.warning("broker %s: could not refresh %s: %s", self.broker.name, order.client_id, exc)
            return
        if venue is not None and order.absorb(venue):
            self._save()
            if order.status == "closed":
                self._event("filled", _what(order), order)

    # ---- notifications --------------------------------------------------------------------
    def handle(self, notice: Notice) -> None:
        """The orders one notification asks for (idempotent: a repeat finds them in the book)."""
        with self._lock:
            try:
                self._handle(notice)
            except Exception as exc:  # a broker bug must not stop the pair: reported, the order stays unsent
                log.exception("broker %s: %s of %s failed", self.broker.name, notice.kind, notice.row.id)
                self._event("failed", f"{notice.delivery_id}: {type(exc).__name__}: {exc}",
                            signal_id=notice.row.id)
                emit_error(exc)

    def _handle(self, notice: Notice) -> None:
        row = notice.row
        if notice.kind == "scheduled" and self.broker.rests_limit_orders:
            self._enter(row, notice.delivery_id, "limit", row.price_open)
        elif notice.kind == "opened":
            self._opened(row, notice)
        elif notice.kind == "cancelled":
            self._cancel_entry(row, notice.delivery_id)
        elif notice.kind == "closed":
            self._exit(row, notice.delivery_id, notice.price or row.price_open)

    def _enter(self, row: SignalRow, delivery_id: str, kind: str, price: float, amount: float | None = None) -> None:
        cid = client_order_id(self.symbol, self.strategy_name, delivery_id)
        if cid not in self.orders:
            if amount is None:
                try:
                    balance = self.broker.fetch_balance().get(self.broker.quote, 0.0)
                    amount = self.sizing.amount(row, price, balance, self.trades, self.interval)
                    amount = self.broker.amount(row.symbol, amount, price)
                except Exception as exc:
                    self._mismatch(f"no entry for {row.id[:8]}: its size could not be decided "
                                   f"({type(exc).__name__}: {exc})", row.id)
                    return
            if amount <= 0:
                self._mismatch(f"no entry for {row.id[:8]}: the size is 0", row.id)
                return
        else:
            amount = self.orders[cid].amount
        side = "buy" if row.position == "long" else "sell"
        self._send(OrderRequest(cid, self.symbol, side, kind, amount, price,  # type: ignore[arg-type]
                                price if kind == "limit" else None, "entry", row.id, delivery_id))

    def _opened(self, row: SignalRow, notice: Notice) -> None:
        resting = self.orders.get(client_order_id(self.symbol, self.strategy_name, f"{row.id}:scheduled"))
        if resting is None:
            kind = "limit" if row.was_scheduled and not self.broker.rests_limit_orders else "market"
            self._enter(row, notice.delivery_id, kind, row.price_open)
            return
        self._refresh(resting)
        if resting.status in ("open", "intent", "failed"):  # the engine saw the price; the venue did not fill all
            self._cancel(resting)
        missing = resting.amount - resting.filled
        if resting.status != "rejected" and missing > 0:
            amount = self.broker.amount(row.symbol, missing, row.price_open)
            if amount > 0 and amount * row.price_open >= self.broker.min_notional(row.symbol):
                self._enter(row, notice.delivery_id, "market", row.price_open, amount)

    def _cancel(self, order: Order) -> None:
        try:
            venue = self.broker.cancel(order.client_id, order.symbol, order.venue_id)
        except Exception as exc:
            self._event("failed", f"cancel {_what(order)}: {type(exc).__name__}: {exc}", order)
            return
        if venue is not None:
            order.absorb(venue)
        elif order.status in ("intent", "failed"):
            order.status = "canceled"
        self._save()
        self._event("cancelled", _what(order), order)

    def _cancel_entry(self, row: SignalRow, delivery_id: str) -> None:
        resting = self.orders.get(client_order_id(self.symbol, self.strategy_name, f"{row.id}:scheduled"))
        if resting is None:
            return
        if not resting.final:
            self._cancel(resting)
        if self.held(row.id) > 0:  # it filled partly before the engine cancelled it: sell that back
            self._exit(row, delivery_id, row.price_open)

    def _exit(self, row: SignalRow, delivery_id: str, price: float, leg: int = 0) -> None:
        cid = client_order_id(self.symbol, self.strategy_name, delivery_id, leg)
        if cid in self.orders:
            order = self.orders[cid]
            if order.status in ("intent", "failed"):
                self._send(order.request())
            return
        for entry in self._for_signal(row.id, "entry"):  # what the entries filled, as the venue knows it now
            if entry.status in ("intent", "failed"):
                self._adopt(entry)
            else:
                self._refresh(entry)
        held = self.held(row.id)
        if held <= 0:
            entries = self._for_signal(row.id, "entry")
            if entries and not any(o.filled for o in entries) and not delivery_id.endswith(":cancelled"):
                why = entries[-1].error or entries[-1].status
                self._mismatch(f"{row.position} {row.id[:8]} closed by the engine with nothing to close on the venue "
                               f"(its entry was not filled: {why})", row.id)
            return
        amount = self.broker.amount(row.symbol, held, price)
        if amount <= 0:
            log.info("broker %s: %g %s of %s is below the venue's precision; left as dust", self.broker.name, held,
                     row.symbol, row.id[:8])
            return
        side = "sell" if row.position == "long" else "buy"
        order = self._send(OrderRequest(cid, self.symbol, side, "market", amount, price, None,  # type: ignore[arg-type]
                                        "exit", row.id, delivery_id))
        if order.status == "closed" and self.held(row.id) <= 1e-12:
            self._book_trade(row)

    def _book_trade(self, row: SignalRow) -> None:
        """The signal's round trip (amount, average entry and exit, fees, PnL in the quote), once."""
        if any(t["signal_id"] == row.id for t in self.trades):
            return
        entries, exits = self._for_signal(row.id, "entry"), self._for_signal(row.id, "exit")
        amount = sum(o.filled for o in entries)
        entry_cost, exit_cost = sum(o.cost for o in entries), sum(o.cost for o in exits)
        fees = sum(_fee_in_quote(o, self.broker.quote) for o in entries + exits)
        gross = exit_cost - entry_cost if row.position == "long" else entry_cost - exit_cost
        self.trades.append({"signal_id": row.id, "position": row.position, "amount": amount,
                            "entry": entry_cost / amount if amount else None,
                            "exit": exit_cost / amount if amount else None, "fees": fees, "pnl": gross - fees,
                            "closed_at": clock.now()})
        self._save()

    # ---- every tick --------------------------------------------------------------------------
    def tick(self, holding: SignalRow | None) -> None:
        """Refresh open orders, send again what failed, continue an exit that filled partly."""
        with self._lock:
            for order in list(self.orders.values()):
                if order.status == "open":
                    self._refresh(order)
                elif order.status in ("intent", "failed") and self._wanted(order, holding):
                    self._send(order.request())
            for order in list(self.orders.values()):
                if order.purpose == "exit" and order.final and self.held(order.signal_id) > 1e-12:
                    legs = [o for o in self._for_signal(order.signal_id, "exit") if o.delivery_id == order.delivery_id]
                    if not all(o.final for o in legs) or legs[-1] is not order:
                        continue
                    if len(legs) < MAX_EXIT_LEGS:
                        self._exit(_row_of(order), order.delivery_id, order.reference_price, leg=len(legs))
                    else:
                        self._mismatch(f"{self.held(order.signal_id):g} {self.symbol} of {order.signal_id[:8]} still "
                                       f"held after {MAX_EXIT_LEGS} exit orders that filled partly: left on the venue",
                                       order.signal_id)

    def _wanted(self, order: Order, holding: SignalRow | None) -> bool:
        """Is an unsent order still needed: an exit always; an entry while the engine holds its signal and no
        later entry replaced it (a resting limit entry is replaced at activation)."""
        if order.purpose == "exit":
            return True
        return holding is not None and holding.id == order.signal_id and \
            self._for_signal(order.signal_id, "entry")[-1] is order

    # ---- at start --------------------------------------------------------------------------
    def reconcile(self, pending: SignalRow | None, scheduled: SignalRow | None) -> None:
        """Compare the book, the venue and the engine's restored rows; adopt, send, close or report each
        difference."""
        with self._lock:
            holding = pending or scheduled
            for order in list(self.orders.values()):
                if order.status in ("intent", "failed"):
                    if self._adopt(order) is False:  # the venue does not have it (None: it could not say)
                        if self._wanted(order, holding):
                            self._send(order.request())
                        else:
                            order.status, order.error = "canceled", "never sent: its signal ended before a restart"
                            self._save()
                else:
                    self._refresh(order)
            self._unknown_orders()
            for signal_id in dict.fromkeys(o.signal_id for o in self.orders.values()):  # in the book's order
                held = self.held(signal_id)
                if held > 1e-12 and (pending is None or pending.id != signal_id) and \
                        (scheduled is None or scheduled.id != signal_id):
                    entry = self._for_signal(signal_id, "entry")[0]
                    self._mismatch(f"{held:g} {self.symbol} of {signal_id[:8]} still held on the venue, but the "
                                   "engine holds no position for it: closed", signal_id)
                    self._exit(_row_of(entry), f"{signal_id}:reconcile", entry.reference_price)
            if pending is not None:
                self._check_position(pending)

    def _unknown_orders(self) -> None:
        try:
            open_orders = self.broker.fetch_open_orders(self.symbol)
        except Exception as exc:
            self._mismatch(f"could not list the venue's open orders to reconcile: {type(exc).__name__}: {exc}")
            return
        prefix = pair_prefix(self.symbol, self.strategy_name)
        for venue in open_orders:
            if venue.client_id.startswith(prefix) and venue.client_id not in self.orders:
                self._mismatch(f"open order {venue.client_id} of this pair is on the venue but not in btk's book: "
                               "cancelled")
                try:
                    self.broker.cancel(venue.client_id, self.symbol)
                except Exception as exc:
                    self._event("failed", f"cancel {venue.client_id}: {type(exc).__name__}: {exc}")

    def _check_position(self, pending: SignalRow) -> None:
        entries = self._for_signal(pending.id, "entry")
        if not entries or not any(o.filled for o in entries):
            why = entries[-1].error if entries and entries[-1].error else "no entry order was filled"
            self._mismatch(f"the engine holds {pending.position} {pending.id[:8]} but the venue has no position "
                           f"for it ({why}); its close will not trade", pending.id)
            return
        try:
            venue = self.broker.fetch_position(self.symbol)
        except Exception as exc:
            self._mismatch(f"could not read the venue's position: {type(exc).__name__}: {exc}", pending.id)
            return
        expected = self.held(pending.id) * (1 if pending.position == "long" else -1)
        short_of = expected - venue if expected > 0 else venue - expected
        if short_of > abs(expected) * 1e-6 + 1e-12:
            self._mismatch(f"the venue holds {venue:g} {self.symbol}, btk expects at least {expected:g} for "
                           f"{pending.id[:8]} (entry {short_price(pending.price_open)}): reported, not changed",
                           pending.id)


def _what(order: Order) -> str:
    price = f" at {short_price(order.price)}" if order.price is not None else ""
    filled = f", filled {order.filled:g}" if order.filled else ""
    return f"{order.purpose} {order.type} {order.side} {order.amount:g} {order.symbol}{price}{filled} " \
           f"({order.client_id}, signal {order.signal_id[:8]})"


def _fee_in_quote(order: Order, quote: str) -> float:
    if not order.fee:
        return 0.0
    return order.fee if order.fee_currency in ("", quote) else order.fee * (order.average or 0.0)


def _row_of(order: Order) -> SignalRow:
    """Enough of a row to exit an order's signal (its side and symbol)."""
    position = "long" if (order.side == "buy") == (order.purpose == "entry") else "short"
    return SignalRow(order.signal_id, position, "", order.reference_price, 0.0, 0.0, 0, order.symbol, "", "", 0, 0,
                     False)
