"""The ccxt broker over HTTP to the fake Binance: market and limit orders with client ids, precision and
minimums, partial fills, refusals, rate limits, reconciliation at start, and credentials kept out of state."""
import logging

import ccxt
import pytest

import btk_core as bt
from btk_core.broker import CcxtBroker, OrderDesk, client_order_id
from btk_core.notices import Notice
from tests.fakes.binance import FakeBinance
from tests.helpers import T0, M, long_at_market, quiet_market, signal_table
from tests.unit.broker.test_paper import live_until

SECRET = "s3cr3t-never-written"


@pytest.fixture
def venue(monkeypatch, tmp_path):
    monkeypatch.setenv("BTK_CCXT_API_KEY", "key-123")
    monkeypatch.setenv("BTK_CCXT_SECRET", SECRET)
    bt.set_config(CC_PERSIST_BASE_DIR=str(tmp_path))
    with FakeBinance(lambda *a: [], balances={"USDT": 10_000.0}, prices={"BTCUSDT": 100.0}) as server:
        yield server


def broker_on(server, **kwargs):
    exchange = ccxt.binance()
    server.point(exchange)
    return CcxtBroker(exchange, backoff_s=0.01, **kwargs)


def venue_orders(server):
    return [(o["clientOrderId"], o["side"], o["type"], o["origQty"], o["executedQty"], o["status"])
            for o in server.account.orders]


def test_a_live_run_places_fills_and_closes_real_orders(venue, fake_clock, tmp_path, caplog):
    caplog.set_level(logging.DEBUG)
    quiet_market({"BTCUSDT": {40: (100, 101.5, 99.9, 101)}}, symbols=("BTCUSDT",))
    bt.add_strategy(strategy_name="s", interval="1m", get_signal=signal_table({("BTCUSDT", 10): long_at_market()}))
    fake_clock.now = T0 + 10 * M
    assert live_until(fake_clock, T0 + 50 * M, symbol="BTCUSDT", broker=broker_on(venue)) == ["opened", "closed"]
    desk = bt.Live.get_ledger("BTCUSDT", "s")
    entry = next(o for o in desk.orders.values() if o.purpose == "entry")
    assert venue_orders(venue) == [
        (entry.client_id, "BUY", "MARKET", "10.00000000", "10.00000000", "FILLED"),
        (client_order_id("BTCUSDT", "s", f"{entry.signal_id}:closed"), "SELL", "MARKET", "10.00000000", "10.00000000",
         "FILLED")]
    assert venue.account.balances["BTCUSDT"[:3]] == 0
    assert venue.account.balances["USDT"] == pytest.approx(10_000 - 2 * 1000 * 0.001)  # two 0.1 % commissions
    assert entry.fee == pytest.approx(1.0) and entry.fee_currency == "USDT" and entry.average == 100
    assert desk.trades[0]["pnl"] == pytest.approx(-2.0)
    stored = "".join(p.read_text() for p in tmp_path.rglob("*.json"))
    assert SECRET not in stored and SECRET not in caplog.text and "key-123" not in stored


@pytest.mark.parametrize("by_client_id", [True, False])
def test_a_limit_entry_rests_on_the_venue_and_the_engine_activation_fills_the_rest(venue, fake_clock, by_client_id):
    venue.account.by_client_id = by_client_id  # False: refreshed and cancelled by the venue's own id
    quiet_market({"BTCUSDT": {20: (100, 100.2, 98.9, 99.5), 40: (100, 101.5, 99.9, 101)}}, symbols=("BTCUSDT",))
    bt.add_strategy(strategy_name="s", interval="1m", get_signal=signal_table({("BTCUSDT", 10): {
        "position": "long", "price_open": 99, "price_take_profit": 101, "price_stop_loss": 98,
        "minute_estimated_time": 60}}))
    fake_clock.now = T0 + 10 * M
    live_until(fake_clock, T0 + 50 * M, symbol="BTCUSDT", broker=broker_on(venue))
    # the venue's price stayed at 100: the resting buy at 99 never filled there; at the engine's activation the
    # desk cancels it and buys the whole amount at market, then sells it at the take profit
    assert [(side, kind, status) for _, side, kind, _, _, status in venue_orders(venue)] == [
        ("BUY", "LIMIT", "CANCELED"), ("BUY", "MARKET", "FILLED"), ("SELL", "MARKET", "FILLED")]
    assert venue_orders(venue)[0][3] == venue_orders(venue)[1][3]  # the same amount
    assert venue.account.balances["BTC"] == 0


def test_partial_fills_are_completed_and_rate_limits_retried(venue, fake_clock, caplog):
    quiet_market({"BTCUSDT": {40: (100, 101.5, 99.9, 101)}}, symbols=("BTCUSDT",))
    bt.add_strategy(strategy_name="s", interval="1m", get_signal=signal_table({("BTCUSDT", 10): long_at_market()}))
    venue.account.partial_fill = 0.5  # the entry fills half, the exit half of that; its rest is sent again
    venue.account.on_create = lambda order: setattr(venue.account, "partial_fill",
                                                    None if order["side"] == "SELL" else 0.5)
    venue.account.fail_orders = 2  # two 429 answers first
    fake_clock.now = T0 + 10 * M
    live_until(fake_clock, T0 + 50 * M, symbol="BTCUSDT", broker=broker_on(venue))
    assert [(side, qty, done, status) for _, side, _, qty, done, status in venue_orders(venue)] == [
        ("BUY", "10.00000000", "5.00000000", "EXPIRED"), ("SELL", "5.00000000", "2.50000000", "EXPIRED"),
        ("SELL", "2.50000000", "2.50000000", "FILLED")]
    assert venue.account.balances["BTC"] == 0
    assert "retrying in 0.01s" in caplog.text and "retrying in 0.02s" in caplog.text  # the two 429s, backed off
    assert len({o["clientOrderId"] for o in venue.account.orders}) == len(venue.account.orders)


def test_refusals_fail_the_order_not_the_run(venue, fake_clock):
    quiet_market(symbols=("BTCUSDT",))
    bt.add_strategy(strategy_name="s", interval="1m", get_signal=signal_table({
        ("BTCUSDT", 10): long_at_market(minutes=2), ("BTCUSDT", 13): {**long_at_market(minutes=2),
                                                                     "position": "short", "price_take_profit": 99,
                                                                     "price_stop_loss": 101}}))
    seen = []
    bt.listen_broker(seen.append)
    venue.account.balances["USDT"] = 50.0  # 10 % is 5 USDT: below the venue's 10 USDT minimum
    fake_clock.now = T0 + 10 * M
    assert live_until(fake_clock, T0 + 20 * M, symbol="BTCUSDT", broker=broker_on(venue)) == [
        "opened", "closed", "opened", "closed"]
    rejected = [e.detail for e in seen if e.kind == "rejected"]
    assert "below the minimum: 5.00 USDT of BTC/USDT, the venue needs at least 10" in rejected[0]
    assert "a short on the spot market BTC/USDT needs a margin account" in rejected[1]
    assert venue.account.created == []  # checked before sending: nothing reached the venue
    assert [e.kind for e in seen].count("mismatch") == 2  # each close says it had nothing to close


def test_a_venue_refusal_is_final_for_the_order_and_reported(venue, fake_clock):
    quiet_market(symbols=("BTCUSDT",))
    bt.add_strategy(strategy_name="s", interval="1m", get_signal=signal_table({("BTCUSDT", 10): long_at_market(minutes=2)}))
    seen = []
    bt.listen_broker(seen.append)
    fake_clock.now = T0 + 10 * M
    live_until(fake_clock, T0 + 15 * M, symbol="BTCUSDT", broker=broker_on(venue),
               sizing=bt.EntrySizing(stake_percentage=100))  # the whole balance: no room for the commission
    assert len(venue.account.created) == 1 and venue.account.orders == []  # sent once, refused, never retried
    rejected = next(e for e in seen if e.kind == "rejected")
    assert "InsufficientFunds" in rejected.detail and "insufficient balance" in rejected.detail
    assert bt.Live.get_ledger("BTCUSDT", "s").orders[rejected.client_id].status == "rejected"


def test_orders_are_found_by_client_id_on_venues_that_cannot_look_them_up_that_way(venue, tmp_path):
    venue.account.by_client_id = False
    broker = broker_on(venue)
    broker.start(str(tmp_path))
    broker.exchange.create_order("BTC/USDT", "limit", "buy", 1, 90, {"clientOrderId": "btk-aaaaaa-1"})
    found = broker.fetch_order("btk-aaaaaa-1", "BTCUSDT")
    assert found is not None and (found.status, found.amount, found.price) == ("open", 1, 90)
    assert broker.fetch_order("btk-aaaaaa-2", "BTCUSDT") is None
    broker.exchange.create_order("BTC/USDT", "market", "buy", 1, None, {"clientOrderId": "btk-aaaaaa-2"})
    filled = broker.fetch_order("btk-aaaaaa-2", "BTCUSDT")  # no longer open: found among the closed orders
    assert filled is not None and (filled.status, filled.filled) == ("closed", 1)


def test_without_credentials_the_run_fails_at_once_naming_the_variables(venue, fake_clock, monkeypatch):
    monkeypatch.delenv("BTK_CCXT_API_KEY")
    quiet_market(symbols=("BTCUSDT",))
    bt.add_strategy(strategy_name="s", interval="1m", get_signal=lambda s, w: None)
    with pytest.raises(bt.broker.BrokerRejected, match="set BTK_CCXT_API_KEY and BTK_CCXT_SECRET"):
        live_until(fake_clock, T0 + 20 * M, symbol="BTCUSDT", broker=broker_on(venue))
    with pytest.raises(ValueError, match="credentials come only from the environment"):
        CcxtBroker(exchange_id="binance", config={"secret": "x"})


def test_reconcile_adopts_closes_and_reports(venue, fake_clock, tmp_path):
    """A killed run left: an entry sent but never heard back (adopted), a position its engine state no longer
    holds (closed), and an order of this pair the book never wrote (cancelled)."""
    quiet_market(symbols=("BTCUSDT",))
    bt.add_strategy(strategy_name="s", interval="1m", get_signal=lambda s, w: None)
    broker = broker_on(venue)
    broker.start(str(tmp_path))
    desk = OrderDesk(broker, symbol="BTCUSDT", strategy_name="s", interval="1m", base_dir=str(tmp_path))
    row = bt.SignalRow("lost-1", "long", "", 100.0, 101.0, 99.0, 60, "BTCUSDT", "ex", "s", T0, T0, False)
    desk.handle(Notice("opened", row, 100.0, T0))  # bought 10 BTC; then the engine's state was lost
    stray = client_order_id("BTCUSDT", "s", "stray:scheduled")
    broker.exchange.create_order("BTC/USDT", "limit", "buy", 1, 90, {"clientOrderId": stray})
    seen = []
    bt.listen_broker(seen.append)
    fake_clock.now = T0 + 10 * M
    live_until(fake_clock, T0 + 12 * M, symbol="BTCUSDT", broker=broker)
    mismatches = [e.detail for e in seen if e.kind == "mismatch"]
    assert any(f"open order {stray} of this pair is on the venue but not in btk's book: cancelled" in m
               for m in mismatches)
    assert any("10 BTCUSDT of lost-1 still held on the venue, but the engine holds no position for it: closed" in m
               for m in mismatches)
    assert venue.account.balances["BTC"] == 0 and venue.account.orders[1]["status"] == "CANCELED"
    report = bt.Live.get_report("BTCUSDT", "s")
    assert "Mismatches with the venue (2):" in report


def test_dry_run_checks_like_the_venue_and_fills_on_paper(venue, fake_clock):
    quiet_market({"BTCUSDT": {40: (100, 101.5, 99.9, 101)}}, symbols=("BTCUSDT",))
    bt.add_strategy(strategy_name="s", interval="1m", get_signal=signal_table({("BTCUSDT", 10): long_at_market()}))
    fake_clock.now = T0 + 10 * M
    live_until(fake_clock, T0 + 50 * M, symbol="BTCUSDT", broker=broker_on(venue, dry_run=True))
    desk = bt.Live.get_ledger("BTCUSDT", "s")
    assert venue.account.created == [] and len(desk.orders) == 2 and desk.broker.name == "ccxt:binance (dry run)"
    assert all(o.status == "closed" for o in desk.orders.values())


def test_an_order_the_venue_cannot_be_asked_about_is_never_sent_blind(venue, fake_clock, tmp_path):
    """A killed process wrote its intent and sent the order, but never heard the answer; at the restart the venue
    answers nothing but 429s. The desk must not send it again until the venue can say whether it has it."""
    from btk_core.broker import Order
    quiet_market(symbols=("BTCUSDT",))
    broker = broker_on(venue)
    broker.start(str(tmp_path))
    desk = OrderDesk(broker, symbol="BTCUSDT", strategy_name="s", interval="1m", base_dir=str(tmp_path))
    row = bt.SignalRow("sig-1", "long", "", 100.0, 101.0, 99.0, 60, "BTCUSDT", "ex", "s", T0, T0, False)
    cid = client_order_id("BTCUSDT", "s", "sig-1:opened")
    desk.orders[cid] = Order(cid, "BTCUSDT", "buy", "market", 1.0, None, "entry", "sig-1", "sig-1:opened", 100.0)
    broker.exchange.create_order("BTC/USDT", "market", "buy", 1, None, {"clientOrderId": cid})
    venue.account.fail_orders = 1000
    desk.reconcile(row, None)
    assert len(venue.account.created) == 1 and desk.orders[cid].status == "failed"
    venue.account.fail_orders = 0
    desk.tick(row)
    assert len(venue.account.created) == 1  # found, not sent again
    assert (desk.orders[cid].status, desk.orders[cid].filled) == ("closed", 1)
