"""A fake Binance spot REST server on 127.0.0.1 (stdlib): ccxt's load_markets and fetch_ohlcv, and a spot
account with orders (create, fetch, cancel, open orders, balances) as ccxt's binance class talks to it.

Candles come from a function ``candles(symbol, interval_ms, start_ms, end_ms) -> list of rows``; the server
pages like Binance (``limit`` <= 1000, ``startTime`` inclusive). Hooks make it misbehave on purpose:
``fail_next`` answers the next klines requests with HTTP 429, ``malformed`` replaces a value by garbage.

The account (``FakeAccount``): market orders fill at the symbol's price (the close of the newest 1m candle
served, or ``prices``), limit orders rest until the price crosses them; a 0.1 % commission in the quote
currency; ``partial_fill`` makes the next orders fill only that fraction (a market order then expires, a
limit order stays partly filled); ``by_client_id = False`` refuses
look-ups by client id (venues that only know their own ids); rejects like Binance: insufficient balance, below the NOTIONAL minimum
(10 quote), a client id already used by an open order; ``fail_orders`` answers the next order requests with
HTTP 429; ``on_create`` is called with each accepted order before the answer is sent (a test kills its client
there). Every create request is kept in ``created`` (accepted or not), to count duplicates.
"""
from __future__ import annotations

import threading
import time
from collections.abc import Callable
from urllib.parse import parse_qs, urlparse

from tests.fakes.http import JsonHandler, LocalServer

MIN_NOTIONAL = 10.0
COMMISSION = 0.001
INTERVALS = {"1m": 60_000, "3m": 180_000, "5m": 300_000, "15m": 900_000, "30m": 1_800_000, "1h": 3_600_000,
             "2h": 7_200_000, "4h": 14_400_000, "6h": 21_600_000, "8h": 28_800_000}


def market(base: str, quote: str) -> dict:
    return {"symbol": base + quote, "status": "TRADING", "baseAsset": base, "baseAssetPrecision": 8,
            "quoteAsset": quote, "quotePrecision": 8, "quoteAssetPrecision": 8, "orderTypes": ["LIMIT", "MARKET"],
            "icebergAllowed": True, "ocoAllowed": True, "isSpotTradingAllowed": True,
            "isMarginTradingAllowed": False, "permissions": ["SPOT"], "permissionSets": [["SPOT"]],
            "filters": [{"filterType": "PRICE_FILTER", "minPrice": "0.01", "maxPrice": "1000000", "tickSize": "0.01"},
                        {"filterType": "LOT_SIZE", "minQty": "0.00001", "maxQty": "9000", "stepSize": "0.00001"},
                        {"filterType": "NOTIONAL", "minNotional": str(MIN_NOTIONAL), "applyMinToMarket": True,
                         "maxNotional": "9000000", "applyMaxToMarket": False, "avgPriceMins": 5}]}


class FakeAccount:
    """A Binance spot account: balances and orders, filled at ``price(symbol)``."""

    def __init__(self, balances: dict[str, float], prices: dict[str, float]) -> None:
        self.balances = dict(balances)
        self.prices = dict(prices)
        self.orders: list[dict] = []  # every accepted order, oldest first
        self.created: list[dict] = []  # every create request, accepted or not
        self.partial_fill: float | None = None
        self.fail_orders = 0
        self.on_create: Callable[[dict], None] | None = None
        self.by_client_id = True  # False: like venues that look orders up by their own id only
        self.lock = threading.Lock()

    @staticmethod
    def assets(symbol: str) -> tuple[str, str]:
        return symbol[:-4], symbol[-4:]  # the fake lists USDT pairs only

    def _fill(self, order: dict, qty: float, price: float) -> None:
        base, quote = self.assets(order["symbol"])
        cost = qty * price
        fee = cost * COMMISSION
        sign = 1 if order["side"] == "BUY" else -1
        self.balances[base] = self.balances.get(base, 0.0) + sign * qty
        self.balances[quote] = self.balances.get(quote, 0.0) - sign * cost - fee
        order["executedQty"] = f"{float(order['executedQty']) + qty:.8f}"
        order["cummulativeQuoteQty"] = f"{float(order['cummulativeQuoteQty']) + cost:.8f}"
        order["fills"].append({"price": f"{price:.8f}", "qty": f"{qty:.8f}", "commission": f"{fee:.8f}",
                               "commissionAsset": quote, "tradeId": len(self.orders) * 10 + len(order["fills"])})

    def _affordable(self, symbol: str, side: str, qty: float, price: float) -> bool:
        base, quote = self.assets(symbol)
        if side == "BUY":
            return qty * price * (1 + COMMISSION) <= self.balances.get(quote, 0.0) + 1e-9
        return qty <= self.balances.get(base, 0.0) + 1e-12

    def create(self, q: dict) -> tuple[int, dict]:
        with self.lock:
            self.created.append(dict(q))
            symbol, side, kind, qty = q["symbol"], q["side"], q["type"], float(q["quantity"])
            cid = q.get("newClientOrderId") or f"fake-{len(self.orders)}"
            if any(o["clientOrderId"] == cid and o["status"] in ("NEW", "PARTIALLY_FILLED") for o in self.orders):
                return 400, {"code": -2010, "msg": "Duplicate order sent."}
            price = float(q["price"]) if kind == "LIMIT" else self.prices[symbol]
            if qty * price < MIN_NOTIONAL:
                return 400, {"code": -1013, "msg": "Filter failure: NOTIONAL"}
            if not self._affordable(symbol, side, qty, price):
                return 400, {"code": -2010, "msg": "Account has insufficient balance for requested action."}
            now = int(time.time() * 1000)
            order = {"symbol": symbol, "orderId": len(self.orders) + 1, "orderListId": -1, "clientOrderId": cid,
                     "transactTime": now, "time": now, "updateTime": now, "price": f"{price if kind == 'LIMIT' else 0:.8f}",
                     "origQty": f"{qty:.8f}", "executedQty": "0.00000000", "cummulativeQuoteQty": "0.00000000",
                     "status": "NEW", "timeInForce": "GTC" if kind == "LIMIT" else "IOC", "type": kind, "side": side,
                     "fills": []}
            self.orders.append(order)
            if kind == "MARKET":
                share = self.partial_fill or 1.0
                self._fill(order, round(qty * share, 5), price)
                order["status"] = "FILLED" if share >= 1 else "EXPIRED"
            else:
                self._cross(order)
            if self.on_create is not None:
                self.on_create(order)
            return 200, order

    def _cross(self, order: dict) -> None:
        """Fill a resting limit order the price has reached (a part of it when ``partial_fill`` is set)."""
        if order["type"] != "LIMIT" or order["status"] not in ("NEW", "PARTIALLY_FILLED"):
            return
        limit, now = float(order["price"]), self.prices[order["symbol"]]
        if (order["side"] == "BUY" and now <= limit) or (order["side"] == "SELL" and now >= limit):
            rest = float(order["origQty"]) - float(order["executedQty"])
            qty = round(rest * self.partial_fill, 5) if self.partial_fill and order["status"] == "NEW" else rest
            self._fill(order, qty, limit)
            order["status"] = "FILLED" if float(order["executedQty"]) >= float(order["origQty"]) - 1e-12 \
                else "PARTIALLY_FILLED"
            order["updateTime"] = int(time.time() * 1000)

    def find(self, q: dict) -> dict | None:
        cid, oid = q.get("origClientOrderId"), q.get("orderId")
        for order in reversed(self.orders):
            if order["symbol"] == q.get("symbol") and (order["clientOrderId"] == cid or str(order["orderId"]) == oid):
                return order
        return None

    def fetch(self, q: dict) -> tuple[int, dict]:
        with self.lock:
            if not self.by_client_id and "orderId" not in q:
                return 400, {"code": -1102, "msg": "Mandatory parameter 'orderId' was not sent, was empty/null, or "
                                                   "malformed."}
            order = self.find(q)
            if order is None:
                return 400, {"code": -2013, "msg": "Order does not exist."}
            self._cross(order)
            return 200, {k: v for k, v in order.items() if k != "fills"}

    def cancel(self, q: dict) -> tuple[int, dict]:
        with self.lock:
            order = self.find(q)
            if order is None or order["status"] not in ("NEW", "PARTIALLY_FILLED"):
                return 400, {"code": -2011, "msg": "Unknown order sent."}
            order["status"] = "CANCELED"
            return 200, {k: v for k, v in order.items() if k != "fills"}

    def open_orders(self, q: dict) -> tuple[int, list]:
        with self.lock:
            for order in self.orders:
                self._cross(order)
            return 200, [{k: v for k, v in o.items() if k != "fills"} for o in self.orders
                         if o["symbol"] == q.get("symbol") and o["status"] in ("NEW", "PARTIALLY_FILLED")]

    def all_orders(self, q: dict) -> tuple[int, list]:
        with self.lock:
            return 200, [{k: v for k, v in o.items() if k != "fills"} for o in self.orders
                         if o["symbol"] == q.get("symbol")]

    def account(self) -> tuple[int, dict]:
        with self.lock:
            return 200, {"makerCommission": 10, "takerCommission": 10, "canTrade": True, "canWithdraw": True,
                         "canDeposit": True, "updateTime": int(time.time() * 1000), "accountType": "SPOT",
                         "balances": [{"asset": a, "free": f"{v:.8f}", "locked": "0.00000000"}
                                      for a, v in sorted(self.balances.items())], "permissions": ["SPOT"]}


class FakeBinance(LocalServer):
    def __init__(self, candles: Callable[[str, int, int, int], list], pairs=(("BTC", "USDT"), ("ETH", "USDT")),
                 balances: dict[str, float] | None = None, prices: dict[str, float] | None = None):
        self.candles = candles
        self.pairs = pairs
        self.klines_calls: list[dict] = []
        self.fail_next = 0
        self.malformed: int | None = None  # open time whose row gets a garbage close
        self.account = FakeAccount(balances or {"USDT": 10_000.0},
                                   prices or {b + q: 50_000.0 for b, q in pairs})
        outer = self

        class Handler(JsonHandler):
            def _query(self) -> dict:
                url = urlparse(self.path)
                query = {k: v[0] for k, v in parse_qs(url.query).items()}
                length = int(self.headers.get("Content-Length") or 0)
                if length:
                    query.update({k: v[0] for k, v in parse_qs(self.rfile.read(length).decode()).items()})
                return query

            def _orders(self, method: str) -> bool:
                """The account endpoints; False when the path is not one of them."""
                path, account = urlparse(self.path).path, outer.account
                routes = {("POST", "/api/v3/order"): account.create, ("GET", "/api/v3/order"): account.fetch,
                          ("DELETE", "/api/v3/order"): account.cancel, ("GET", "/api/v3/openOrders"): account.open_orders,
                          ("GET", "/api/v3/allOrders"): account.all_orders,
                          ("GET", "/api/v3/account"): lambda q: account.account()}
                handler = routes.get((method, path))
                if handler is None:
                    return False
                query = self._query()
                if account.fail_orders:
                    account.fail_orders -= 1
                    self.reply(429, {"code": -1003, "msg": "Too many requests."})
                    return True
                status, body = handler(query)
                self.reply(status, body)
                return True

            def do_POST(self):
                if not self._orders("POST"):
                    self.reply(404, {"code": -1, "msg": "not here"})

            def do_DELETE(self):
                if not self._orders("DELETE"):
                    self.reply(404, {"code": -1, "msg": "not here"})

            def do_GET(self):
                if self._orders("GET"):
                    return
                url = urlparse(self.path)
                query = {k: v[0] for k, v in parse_qs(url.query).items()}
                if url.path.endswith("/exchangeInfo"):
                    body = {"timezone": "UTC", "serverTime": 0, "rateLimits": [], "exchangeFilters": [],
                            "symbols": [market(b, q) for b, q in outer.pairs]}
                    return self.reply(200, body)
                if url.path.endswith("/klines"):
                    outer.klines_calls.append(query)
                    if outer.fail_next:
                        outer.fail_next -= 1
                        return self.reply(429, {"code": -1003, "msg": "Too many requests."})
                    if query.get("symbol") not in {b + q for b, q in outer.pairs}:
                        return self.reply(400, {"code": -1121, "msg": "Invalid symbol."})
                    step = INTERVALS.get(query.get("interval", ""))
                    if step is None:
                        return self.reply(400, {"code": -1120, "msg": "Invalid interval."})
                    start = int(query.get("startTime", 0))
                    limit = min(int(query.get("limit", 500)), 1000)
                    rows = outer.candles(query["symbol"], step, start, start + limit * step)[:limit]
                    out = []
                    for t, o, h, l, c, v in rows:
                        close = "garbage" if t == outer.malformed else f"{c:.8f}"
                        out.append([t, f"{o:.8f}", f"{h:.8f}", f"{l:.8f}", close, f"{v:.8f}", t + step - 1,
                                    "0", 1, "0", "0", "0"])
                    if rows and step == 60_000:
                        outer.account.prices[query["symbol"]] = float(rows[-1][4])  # the venue's price moves on
                    return self.reply(200, out)
                return self.reply(404, {"code": -1, "msg": "not here"})

        super().__init__(Handler)

    def point(self, exchange) -> None:
        point_at(exchange, self.url)


def point_at(exchange, url: str) -> None:
    """Rewrite every API URL of a ccxt binance object to a fake server at ``url`` (spot markets only)."""
    for key, value in list(exchange.urls["api"].items()):
        if isinstance(value, str):
            exchange.urls["api"][key] = url + urlparse(value).path
    exchange.options["fetchMarkets"] = {"types": ["spot"]}
    exchange.options["fetchCurrencies"] = False  # the fake has no /sapi endpoints (currencies, margin pairs)
    exchange.options["fetchMargins"] = False
