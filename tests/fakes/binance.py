"""A fake Binance spot REST server on 127.0.0.1 (stdlib), enough for ccxt's load_markets and fetch_ohlcv.

Candles come from a function ``candles(symbol, interval_ms, start_ms, end_ms) -> list of rows``; the server
pages like Binance (``limit`` <= 1000, ``startTime`` inclusive). Hooks make it misbehave on purpose:
``fail_next`` answers the next klines requests with HTTP 429, ``malformed`` replaces a value by garbage.
"""
from __future__ import annotations

from collections.abc import Callable
from urllib.parse import parse_qs, urlparse

from tests.fakes.http import JsonHandler, LocalServer

INTERVALS = {"1m": 60_000, "3m": 180_000, "5m": 300_000, "15m": 900_000, "30m": 1_800_000, "1h": 3_600_000,
             "2h": 7_200_000, "4h": 14_400_000, "6h": 21_600_000, "8h": 28_800_000}


def market(base: str, quote: str) -> dict:
    return {"symbol": base + quote, "status": "TRADING", "baseAsset": base, "baseAssetPrecision": 8,
            "quoteAsset": quote, "quotePrecision": 8, "quoteAssetPrecision": 8, "orderTypes": ["LIMIT", "MARKET"],
            "icebergAllowed": True, "ocoAllowed": True, "isSpotTradingAllowed": True,
            "isMarginTradingAllowed": False, "permissions": ["SPOT"], "permissionSets": [["SPOT"]],
            "filters": [{"filterType": "PRICE_FILTER", "minPrice": "0.01", "maxPrice": "1000000", "tickSize": "0.01"},
                        {"filterType": "LOT_SIZE", "minQty": "0.00001", "maxQty": "9000", "stepSize": "0.00001"}]}


class FakeBinance(LocalServer):
    def __init__(self, candles: Callable[[str, int, int, int], list], pairs=(("BTC", "USDT"), ("ETH", "USDT"))):
        self.candles = candles
        self.pairs = pairs
        self.klines_calls: list[dict] = []
        self.fail_next = 0
        self.malformed: int | None = None  # open time whose row gets a garbage close
        outer = self

        class Handler(JsonHandler):
            def do_GET(self):
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
                    return self.reply(200, out)
                return self.reply(404, {"code": -1, "msg": "not here"})

        super().__init__(Handler)

    def point(self, exchange) -> None:
        """Rewrite every API URL of a ccxt exchange object to this server (spot markets only)."""
        for key, value in list(exchange.urls["api"].items()):
            if isinstance(value, str):
                path = urlparse(value).path
                exchange.urls["api"][key] = self.url + path
        exchange.options["fetchMarkets"] = {"types": ["spot"]}
