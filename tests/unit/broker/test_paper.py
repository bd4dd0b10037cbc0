"""The paper broker and the order desk on it (the default broker of live runs): worked numbers, refusals, a
restart, and a whole live run whose ledger matches the engine's trade."""
import json
import re

import pytest

import btk_core as bt
from btk_core import clock
from btk_core.broker import EntrySizing, OrderRequest, PaperBroker, client_order_id, make_broker
from tests.helpers import T0, M, long_at_market, quiet_market, signal_table


def buy(cid, amount, price, purpose="entry", side="buy"):
    return OrderRequest(cid, "BTCUSDT", side, "market", amount, price, None, purpose, "sig", "sig:opened")


def test_client_ids_are_stable_short_and_name_the_pair():
    a = client_order_id("BTC/USDT", "s", "3f2a-uuid:opened")
    assert a == client_order_id("BTC/USDT", "s", "3f2a-uuid:opened")
    assert re.fullmatch(r"btk-[0-9a-f]{6}-[0-9a-f]{20}", a) and len(a) <= 36
    others = {client_order_id("BTC/USDT", "s", "3f2a-uuid:closed"), client_order_id("BTC/USDT", "t", "3f2a-uuid:opened"),
              client_order_id("BTC/USDT", "s", "3f2a-uuid:opened", leg=1)}
    assert a not in others and len(others) == 3
    assert client_order_id("ETH/USDT", "s", "x:opened")[:11] != a[:11]


def test_paper_fills_at_the_engine_price_with_slippage_and_fee(tmp_path):
    paper = PaperBroker(10_000, fee_percent=0.1, slippage_percent=0.1)
    paper.start(str(tmp_path))
    entry = paper.place_entry(buy("c1", 2, 100.0))
    assert (entry.status, entry.filled, entry.average) == ("closed", 2, pytest.approx(100.1))
    assert entry.cost == pytest.approx(200.2) and entry.fee == pytest.approx(0.2002)
    assert paper.fetch_balance() == {"USDT": pytest.approx(9799.5998), "BTC": 2}
    exit_ = paper.place_exit(buy("c2", 2, 110.0, "exit", "sell"))
    assert exit_.average == pytest.approx(109.89) and exit_.fee == pytest.approx(0.21978)
    assert paper.fetch_balance() == {"USDT": pytest.approx(10019.16002), "BTC": 0}


def test_paper_refuses_what_the_account_cannot_pay_and_changes_nothing(tmp_path):
    paper = PaperBroker(100, fee_percent=0, slippage_percent=0)
    paper.start(str(tmp_path))
    with pytest.raises(bt.broker.BrokerRejected, match=r"insufficient funds: buying 2 BTC needs 200.00 USDT, "
                                                        r"the paper account has 100.00"):
        paper.place_entry(buy("c1", 2, 100.0))
    with pytest.raises(bt.broker.BrokerRejected, match="selling 1 BTC, the paper account holds 0"):
        paper.place_exit(buy("c2", 1, 100.0, "exit", "sell"))
    assert paper.fetch_balance() == {"USDT": 100} and paper.fetch_order("c1", "BTCUSDT") is None


def test_a_paper_account_survives_a_restart_and_a_repeated_order_is_the_same_order(tmp_path):
    first = PaperBroker(1_000, fee_percent=0, slippage_percent=0)
    first.start(str(tmp_path))
    first.place_entry(buy("c1", 1, 100.0))
    again = PaperBroker(1_000, fee_percent=0, slippage_percent=0)  # a new process, the same account
    again.start(str(tmp_path))
    assert again.place_entry(buy("c1", 1, 100.0)).filled == 1
    assert again.fetch_balance() == {"USDT": 900, "BTC": 1}


def test_brokers_are_chosen_by_name_with_clear_errors():
    quiet_market()
    exchange = bt.registry.lookup("exchange", "ex")
    assert make_broker("none", symbol="BTC", strategy_name="s", exchange=exchange) is None
    assert make_broker("paper", symbol="BTC", strategy_name="s", exchange=exchange).account == "BTC--s"
    with pytest.raises(ValueError, match="exchange 'ex' is not a ccxt exchange"):
        make_broker("ccxt", symbol="BTC", strategy_name="s", exchange=exchange)
    with pytest.raises(ValueError, match=r"broker must be one of \['paper', 'ccxt', 'ccxt-dry', 'none'\]"):
        make_broker("papr", symbol="BTC", strategy_name="s", exchange=exchange)


def live_until(fake_clock, until, symbol="BTC", halt=False, **kwargs):
    """Run the pair ``s`` live from now until ``until`` (stopped, or halted: its position kept); returns the
    actions yielded."""
    def sleep(seconds):
        fake_clock.now += int(seconds * 1000)
        if fake_clock.now >= until:
            (bt.Live.halt if halt else bt.Live.stop)(symbol, "s")
    clock.set_clock(fake_clock.now_ms, sleep)
    return [r.action for r in bt.Live.run(symbol, strategy_name="s", exchange_name="ex", **kwargs)]


def test_a_live_run_trades_on_paper_by_default(fake_clock, tmp_path):
    bt.set_config(CC_PERSIST_BASE_DIR=str(tmp_path))
    quiet_market({"BTC": {40: (100, 101.5, 99.9, 101)}})
    bt.add_strategy(strategy_name="s", interval="1m", get_signal=signal_table({("BTC", 10): long_at_market()}))
    seen = []
    bt.listen_broker(seen.append)
    fake_clock.now = T0 + 10 * M
    assert live_until(fake_clock, T0 + 50 * M) == ["opened", "closed"]
    desk = bt.Live.get_ledger("BTC", "s")
    entry, exit_ = sorted(desk.orders.values(), key=lambda o: o.purpose)
    # 10 % of 10 000 USDT at the entry price 100; fills at 100 +- 0.1 % slippage, 0.1 % fee (the config's)
    assert (entry.side, entry.amount, entry.average, entry.fee) == ("buy", 10, pytest.approx(100.1), pytest.approx(1.001))
    assert (exit_.side, exit_.amount, exit_.average) == ("sell", 10, pytest.approx(100.899))
    assert desk.trades[0]["pnl"] == pytest.approx(1008.99 - 1001.0 - 1.001 - 1.00899)
    assert desk.broker.fetch_balance() == {"USDT": pytest.approx(10005.98001), "BTC": 0}
    assert [e.kind for e in seen] == ["filled", "filled"] and all(e.broker == "paper" for e in seen)
    report = bt.Live.get_report("BTC", "s")
    assert "Broker: paper; USDT balance 10005.98 USDT; 2 orders (2 closed); 1 round trips." in report
    assert "No mismatch between btk and the venue." in report
    ledger = bt.Live.get_ledger_report("BTC", "s")
    for heading in ("# Ledger BTC s", "## Balances", "## Mismatches", "## Orders", "## Fills", "## Round trips"):
        assert heading in ledger
    assert "net PnL 5.98 USDT after fees" in ledger
    account = json.loads((tmp_path / "ledger" / "paper" / "BTC--s.json").read_text())
    assert set(account["orders"]) == set(desk.orders)


def test_signals_only_when_asked(fake_clock, tmp_path):
    bt.set_config(CC_PERSIST_BASE_DIR=str(tmp_path))
    quiet_market({"BTC": {40: (100, 101.5, 99.9, 101)}})
    bt.add_strategy(strategy_name="s", interval="1m", get_signal=signal_table({("BTC", 10): long_at_market()}))
    fake_clock.now = T0 + 10 * M
    assert live_until(fake_clock, T0 + 50 * M, broker="none") == ["opened", "closed"]
    assert bt.Live.get_ledger("BTC", "s") is None and not (tmp_path / "ledger").exists()


def test_entries_are_sized_by_a_registered_sizing(fake_clock, tmp_path):
    bt.set_config(CC_PERSIST_BASE_DIR=str(tmp_path))
    quiet_market({"BTC": {40: (100, 101.5, 99.9, 101)}})
    bt.add_sizing(sizing_name="risk1", method="fixed-percentage", risk_percentage=1)
    bt.add_strategy(strategy_name="s", interval="1m", get_signal=signal_table({("BTC", 10): long_at_market(sl=98)}))
    fake_clock.now = T0 + 10 * M
    live_until(fake_clock, T0 + 50 * M, broker=PaperBroker(50_000), sizing=EntrySizing(sizing_name="risk1"))
    entry = next(o for o in bt.Live.get_ledger("BTC", "s").orders.values() if o.purpose == "entry")
    assert entry.amount == pytest.approx(50_000 * 0.01 / (100 - 98))  # 1 % of the balance between entry and stop


def test_a_rejected_entry_is_an_event_and_a_mismatch_not_a_silent_gap(fake_clock, tmp_path):
    bt.set_config(CC_PERSIST_BASE_DIR=str(tmp_path))
    quiet_market()
    bt.add_strategy(strategy_name="s", interval="1m", get_signal=signal_table({("BTC", 10): long_at_market()}))
    seen = []
    bt.listen_broker(seen.append)
    fake_clock.now = T0 + 10 * M
    broker = PaperBroker(1_000, account="tiny")
    live_until(fake_clock, T0 + 12 * M, halt=True, broker=broker, sizing=EntrySizing(stake_percentage=100))
    assert [e.kind for e in seen] == ["rejected"] and "insufficient funds" in seen[0].detail
    bt.Live._reset()  # a restart finds the engine holding a position the venue does not have
    live_until(fake_clock, T0 + 13 * M, halt=True, broker=broker)
    assert seen[-1].kind == "mismatch" and "the venue has no position for it (insufficient funds" in seen[-1].detail
    assert "Mismatches with the venue (1):" in bt.Live.get_report("BTC", "s")
    bt.Live._reset()
    live_until(fake_clock, T0 + 14 * M, broker=broker)  # runs to the close (60 min): nothing to sell, and says so
    assert seen[-1].kind == "mismatch" and "closed by the engine with nothing to close on the venue" in seen[-1].detail


def test_atr_sizing_reads_the_strategy_interval_candles(fake_clock, tmp_path):
    bt.set_config(CC_PERSIST_BASE_DIR=str(tmp_path))
    quiet_market()  # every candle: high 100.2, low 99.8, close 100 -> true range 0.4
    bt.add_sizing(sizing_name="atr", method="atr-based", risk_percentage=0.5, atr_multiplier=2)
    bt.add_strategy(strategy_name="s", interval="1m", get_signal=signal_table({("BTC", 10): long_at_market(minutes=3)}))
    fake_clock.now = T0 + 10 * M
    live_until(fake_clock, T0 + 20 * M, broker=PaperBroker(100_000), sizing=EntrySizing(sizing_name="atr"))
    entry = next(o for o in bt.Live.get_ledger("BTC", "s").orders.values() if o.purpose == "entry")
    assert entry.amount == pytest.approx(100_000 * 0.005 / (0.4 * 2))  # 0.5 % of the balance over 2 ATRs


def test_a_paper_short_sells_first_and_buys_back(fake_clock, tmp_path):
    bt.set_config(CC_PERSIST_BASE_DIR=str(tmp_path))
    quiet_market({"BTC": {40: (100, 100.1, 98.5, 99)}})
    bt.add_strategy(strategy_name="s", interval="1m", get_signal=signal_table({("BTC", 10): {
        "position": "short", "price_take_profit": 99, "price_stop_loss": 101, "minute_estimated_time": 60}}))
    fake_clock.now = T0 + 10 * M
    live_until(fake_clock, T0 + 50 * M, broker=PaperBroker(10_000, fee_percent=0, slippage_percent=0))
    desk = bt.Live.get_ledger("BTC", "s")
    assert sorted((o.purpose, o.side, o.amount, o.average) for o in desk.orders.values()) == [
        ("entry", "sell", 10, 100), ("exit", "buy", 10, 99)]
    assert desk.trades[0]["pnl"] == pytest.approx(10.0)  # sold 10 at 100, bought back at 99
    assert desk.broker.fetch_balance() == {"USDT": pytest.approx(10_010), "BTC": 0}
