"""SPEC §8: the portfolio backtest steps pairs in one global time order with shared risk."""
import pytest

import btk_core as bt
from tests.helpers import T0, M, long_at_market, quiet_market, signal_table


@pytest.fixture(autouse=True)
def far_future(fake_clock):
    fake_clock.now = T0 + 100 * 24 * 60 * M


def max_positions(n):
    return lambda p: f"max {n} positions" if p.active_position_count >= n else None


def test_spec_example_max1():
    """Both signal at the first step: BTC (pair 0) opens, ETH is rejected; BTC closes at T0+13m and
    ETH's step at m13 runs after the close, so ETH may open then."""
    quiet_market({"BTC": {12: (100, 101.5, 99.9, 101)}})
    bt.add_frame(frame_name="f", interval="1m", start_date=T0 + 10 * M, end_date=T0 + 20 * M)
    bt.add_risk(risk_name="max1", validations=[max_positions(1)])
    bt.add_strategy(strategy_name="s", interval="1m", risk_name="max1", get_signal=signal_table({
        ("BTC", 10): long_at_market(), ("ETH", 10): long_at_market(), ("ETH", 13): long_at_market()}))
    rejections = []
    bt.listen_risk(rejections.append)
    out = list(bt.Backtest.run_portfolio([("BTC", "s"), ("ETH", "s")], exchange_name="ex", frame_name="f"))
    assert (out[0].symbol, out[0].close_timestamp) == ("BTC", T0 + 13 * M)
    assert [(c.symbol, c.timestamp, c.active_position_count) for c in rejections] == [("ETH", T0 + 10 * M, 1)]
    (eth,) = [r for r in out if r.symbol == "ETH"]
    assert eth.signal.pending_at == T0 + 13 * M


def test_shared_limit_over_three_pairs_needs_time_order():
    """max 2 positions over 3 pairs whose signals overlap: run one after another, all three would trade."""
    quiet_market()
    bt.add_frame(frame_name="f", interval="1m", start_date=T0, end_date=T0 + 100 * M)
    bt.add_risk(risk_name="max2", validations=[max_positions(2)])
    table = {("BTC", 0): long_at_market(105, 95, 30), ("ETH", 5): long_at_market(105, 95, 30),
             ("SOL", 10): long_at_market(105, 95, 30)}
    bt.add_strategy(strategy_name="s", interval="1m", get_signal=signal_table(table), risk_name="max2")
    pairs = [("BTC", "s"), ("ETH", "s"), ("SOL", "s")]
    together = list(bt.Backtest.run_portfolio(pairs, exchange_name="ex", frame_name="f"))
    # BTC [0, 30), ETH [5, 35): SOL at m10 sees 2 positions and is rejected; SOL's next call is m11 (idle)
    assert sorted(r.symbol for r in together) == ["BTC", "ETH"]
    assert bt.Risk.get_data("SOL", "s").total_rejections == 1
    one_by_one = [r for sym, _ in pairs for r in bt.Backtest.run(sym, strategy_name="s", exchange_name="ex",
                                                                  frame_name="f")]
    assert sorted(r.symbol for r in one_by_one) == ["BTC", "ETH", "SOL"]


def test_without_shared_risk_portfolio_equals_single_runs():
    quiet_market({"BTC": {12: (100, 101.5, 99.9, 101), 40: (100, 100.1, 98.5, 99)},
                  "ETH": {11: (100, 100.1, 98.5, 99)}, "SOL": {30: (100, 101.5, 99.9, 101)}})
    bt.add_frame(frame_name="f", interval="1m", start_date=T0 + 10 * M, end_date=T0 + 90 * M)
    table = {(sym, m): long_at_market() for sym in ("BTC", "ETH", "SOL") for m in (10, 25, 39, 60)}
    table[("ETH", 20)] = {"position": "short", "price_open": 100.3, "price_take_profit": 99, "price_stop_loss": 101.5,
                          "minute_estimated_time": 30}
    bt.add_strategy(strategy_name="a", interval="1m", get_signal=signal_table(table))
    bt.add_strategy(strategy_name="b", interval="5m", get_signal=signal_table(table))
    pairs = [(sym, strat) for sym in ("BTC", "ETH", "SOL") for strat in ("a", "b")]
    together = list(bt.Backtest.run_portfolio(pairs, exchange_name="ex", frame_name="f"))
    stats_together = {p: bt.Backtest.get_data(*p) for p in pairs}
    singles = {p: list(bt.Backtest.run(p[0], strategy_name=p[1], exchange_name="ex", frame_name="f")) for p in pairs}
    for p in pairs:
        mine = [r for r in together if (r.symbol, r.strategy_name) == p]
        assert [(r.action, r.timestamp, r.current_price) for r in mine] == \
            [(r.action, r.timestamp, r.current_price) for r in singles[p]], p
        assert bt.Backtest.get_data(*p).total_pnl == stats_together[p].total_pnl
    times = [r.timestamp for r in together]
    assert times == sorted(times)  # yields follow the global time order


def test_ties_follow_pair_order_and_class_order():
    quiet_market({"BTC": {12: (100, 101.5, 99.9, 101)}})
    bt.add_frame(frame_name="f", interval="1m", start_date=T0 + 10 * M, end_date=T0 + 14 * M)
    log = []
    bt.add_strategy(strategy_name="s", interval="1m", get_signal=signal_table({
        ("BTC", 10): long_at_market(), ("ETH", 13): long_at_market(105, 95, 5)}))
    bt.listen_signal(lambda r: log.append((r.symbol, r.action, r.timestamp)) if r.action != "idle" else None)
    list(bt.Backtest.run_portfolio([("ETH", "s"), ("BTC", "s")], exchange_name="ex", frame_name="f"))
    # BTC closes at T0+13m (class 1) before ETH's frame step at T0+13m (class 3), although ETH is pair 0
    assert log[:3] == [("BTC", "opened", T0 + 10 * M), ("BTC", "closed", T0 + 13 * M), ("ETH", "opened", T0 + 13 * M)]


def test_stop_one_pair_and_done_per_pair():
    quiet_market()
    bt.add_frame(frame_name="f", interval="1m", start_date=T0, end_date=T0 + 20 * M)
    done = []
    bt.listen_done_backtest(lambda e: done.append(e.symbol))

    def stopper(symbol, when):
        if symbol == "ETH":
            bt.Backtest.stop("ETH", "s")
        return None

    bt.add_strategy(strategy_name="s", interval="1m", get_signal=stopper)
    list(bt.Backtest.run_portfolio([("BTC", "s"), ("ETH", "s")], exchange_name="ex", frame_name="f"))
    assert sorted(done) == ["BTC", "ETH"] and done[0] == "ETH"


def test_bad_pairs_are_refused():
    quiet_market()
    bt.add_frame(frame_name="f", interval="1m", start_date=T0, end_date=T0 + 20 * M)
    bt.add_strategy(strategy_name="s", interval="1m", get_signal=lambda s, w: None)
    for pairs in ([], [("BTC", "s"), ("BTC", "s")], [("BTC",)]):
        with pytest.raises(bt.SchemaValidationError, match="pairs must be"):
            bt.Backtest.run_portfolio(pairs, exchange_name="ex", frame_name="f")
    with pytest.raises(bt.UnknownNameError):
        bt.Backtest.run_portfolio([("BTC", "nope")], exchange_name="ex", frame_name="f")


def test_callbacks_see_their_own_pair_in_the_context():
    """Pairs share one run context; each event points it at its own pair and time first."""
    quiet_market({"BTC": {12: (100, 101.5, 99.9, 101)}})
    bt.add_frame(frame_name="f", interval="1m", start_date=T0 + 10 * M, end_date=T0 + 14 * M)
    seen = []

    def on_close(symbol, signal, price, backtest):
        seen.append((symbol, bt.get_date().minute, bt.get_candles(symbol, "1m", 1).timestamp[0]))

    bt.add_strategy(strategy_name="s", interval="1m", callbacks={"on_close": on_close},
                    get_signal=signal_table({("BTC", 10): long_at_market()}))
    list(bt.Backtest.run_portfolio([("BTC", "s"), ("ETH", "s")], exchange_name="ex", frame_name="f"))
    assert seen == [("BTC", 13, T0 + 12 * M)]
