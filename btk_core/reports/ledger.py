"""The ledger report of a live run's broker: balances, orders, fills, fees, round trips and mismatches.

Its first lines are the figures a trader checks (balances, fees, how many orders of each status), then the
mismatches found with the venue (each one is also a ``mismatch`` event and a line of the live report), then
the tables, newest first.
"""
from __future__ import annotations

from collections import Counter
from typing import Any

from ..broker import OrderDesk
from ..fmt import iso, short_price
from .render import table

SHOWN_ORDERS = 50


def _balances(desk: OrderDesk) -> dict[str, float] | None:
    try:
        return desk.broker.fetch_balance()
    except Exception:
        return None


def broker_lines(desk: OrderDesk) -> str:
    """What the live report says about the broker: which one, its quote balance, and every mismatch."""
    balances = _balances(desk)
    quote = desk.broker.quote
    balance = "unavailable" if balances is None else f"{balances.get(quote, 0.0):.2f} {quote}"
    counts: Counter[str] = Counter(o.status for o in desk.orders.values())
    lines = ["", "## Orders", "", f"Broker: {desk.broker.name}; {quote} balance {balance}; "
             f"{len(desk.orders)} orders ({_counts(counts)}); {len(desk.trades)} round trips."]
    if desk.mismatches:
        lines += ["", f"Mismatches with the venue ({len(desk.mismatches)}):", ""]
        lines += [f"- {iso(m['at'])}: {m['detail']}" for m in reversed(desk.mismatches)]
    else:
        lines += ["", "No mismatch between btk and the venue."]
    return "\n".join(lines) + "\n"


def _counts(counts: Counter[str]) -> str:
    return ", ".join(f"{n} {status}" for status, n in sorted(counts.items())) or "none"


def ledger_report(desk: OrderDesk) -> str:
    balances = _balances(desk)
    orders = sorted(desk.orders.values(), key=lambda o: (o.created_at, o.client_id), reverse=True)
    fees: dict[str, float] = {}
    for o in orders:
        if o.fee:
            currency = o.fee_currency or desk.broker.quote
            fees[currency] = fees.get(currency, 0.0) + o.fee
    pnl = sum(t["pnl"] for t in desk.trades)
    lines = [f"# Ledger {desk.symbol} {desk.strategy_name}", "",
             f"Broker: {desk.broker.name}. Orders: {len(orders)} ({_counts(Counter(str(o.status) for o in orders))}). "
             f"Round trips: {len(desk.trades)}, net PnL {pnl:.2f} {desk.broker.quote} after fees.",
             "Fees: " + (", ".join(f"{v:.6g} {k}" for k, v in sorted(fees.items())) or "none") + ".", ""]
    lines += ["## Balances", ""]
    if balances is None:
        lines += ["The venue's balances could not be read.", ""]
    else:
        lines += [table(["Currency", "Balance"], [[k, f"{v:.8g}"] for k, v in sorted(balances.items())]), ""]
    lines += ["## Mismatches", ""]
    lines += [f"- {iso(m['at'])}: {m['detail']}" for m in reversed(desk.mismatches)] or ["None."]
    lines += ["", "## Orders", ""]
    if len(orders) > SHOWN_ORDERS:
        lines += [f"Showing the newest {SHOWN_ORDERS} of {len(orders)}.", ""]
    lines += [table(["Created", "Client ID", "Signal ID", "Purpose", "Side", "Type", "Amount", "Price", "Filled",
                     "Average", "Fee", "Status", "Note"],
                    [_order_row(o) for o in orders[:SHOWN_ORDERS]]), ""]
    fills = [(o, f) for o in orders for f in o.fills]
    lines += ["## Fills", ""]
    lines += [table(["Time", "Client ID", "Side", "Amount", "Price", "Fee"],
                    [[iso(f.get("at")), o.client_id, o.side, f"{f.get('amount') or 0:g}", short_price(f.get("price")),
                      f"{f.get('fee') or 0:.6g}"] for o, f in fills[:SHOWN_ORDERS]]) if fills else "None.", ""]
    lines += ["## Round trips", ""]
    lines += [table(["Closed", "Signal ID", "Position", "Amount", "Entry", "Exit", "Fees", "PnL"],
                    [[iso(t["closed_at"]), t["signal_id"][:8], t["position"], f"{t['amount']:g}",
                      short_price(t["entry"]), short_price(t["exit"]), f"{t['fees']:.4f}", f"{t['pnl']:.4f}"]
                     for t in reversed(desk.trades[-SHOWN_ORDERS:])]) if desk.trades else "None.", ""]
    return "\n".join(lines)


def _order_row(o: Any) -> list[Any]:
    return [iso(o.created_at), o.client_id, o.signal_id[:8], o.purpose, o.side, o.type, f"{o.amount:g}",
            short_price(o.price) if o.price is not None else "market", f"{o.filled:g}",
            short_price(o.average) if o.average else "", f"{o.fee:.6g} {o.fee_currency}".strip() if o.fee else "",
            o.status, o.error or ""]
