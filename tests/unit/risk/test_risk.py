"""SPEC §10: risk validations, payloads, events, callbacks, several profiles, activation checks."""
import pytest

import btk_core as bt
from btk_core.risk import DEFAULT_NOTE, TRUE_NOTE
from tests.helpers import T0, M, long_at_market, quiet_market, signal_table


@pytest.fixture(autouse=True)
def market(fake_clock):
    fake_clock.now = T0 + 100 * 24 * 60 * M
    quiet_market({"BTC": {12: (100, 101.5, 99.9, 101)}})
    bt.add_frame(frame_name="f", interval="1m", start_date=T0 + 10 * M, end_date=T0 + 20 * M)


def run(strategy="s", symbol="BTC"):
    return list(bt.Backtest.run(symbol, strategy_name=strategy, exchange_name="ex", frame_name="f"))


def with_validation(validation, **risk_kw):
    bt.add_risk(risk_name="r", validations=[validation], **risk_kw)
    sig = signal_table({("BTC", 10): long_at_market()})
    bt.add_strategy(strategy_name="s", interval="1m", get_signal=sig, risk_name="r")
    rejections = []
    bt.listen_risk(rejections.append)
    return sig, rejections


@pytest.mark.parametrize("value", [None, False, "", 0, [], {}])
def test_falsy_passes(value):
    _, rejections = with_validation(lambda p: value)
    assert len(run()) == 1 and rejections == []


class Verdict:
    id = "obj-id"
    note = "object note"


@pytest.mark.parametrize("value, rid, note", [
    ("too many", None, "too many"),
    ({"id": "r1", "note": "mapping note"}, "r1", "mapping note"),
    ({"id": "r2"}, "r2", DEFAULT_NOTE),
    (Verdict(), "obj-id", "object note"),
    (42, None, DEFAULT_NOTE),
    (True, None, TRUE_NOTE),
])
def test_truthy_rejects(value, rid, note):
    sig, rejections = with_validation(lambda p: value)
    assert run() == []
    (contract,) = rejections
    assert (contract.rejection_id, contract.rejection_note, contract.risk_name) == (rid, note, "r")
    assert contract.current_price == 100.0 and contract.timestamp == T0 + 10 * M and contract.backtest
    assert sig.calls[:2] == [("BTC", 10), ("BTC", 11)]  # rejection at intake is an idle step


def test_true_also_reports_a_user_code_error():
    seen = []
    bt.listen_validation(seen.append)
    with_validation(lambda p: True)
    run()
    assert isinstance(seen[0], bt.UserCodeError) and "returned True" in str(seen[0])


@pytest.mark.parametrize("exc, note", [(ValueError("bad payload"), "bad payload"), (RuntimeError(), "RuntimeError")])
def test_raising_validation_rejects_and_is_reported(exc, note):
    seen = []
    bt.listen_validation(seen.append)

    def boom(p):
        raise exc

    _, rejections = with_validation(boom)
    assert run() == [] and rejections[0].rejection_note == note
    assert seen[0].__cause__ is exc


def test_fail_fast_and_mapping_form_and_callbacks():
    calls, allowed, rejected = [], [], []
    bt.add_risk(risk_name="r", validations=[
        {"validate": lambda p: calls.append("first") or "no", "note": "first check"},
        lambda p: calls.append("second"),
    ], callbacks={"on_rejected": lambda s, p: rejected.append(p.risk_name)})
    bt.add_risk(risk_name="ok", validations=[lambda p: None],
                callbacks={"on_allowed": lambda s, p: allowed.append(s)})
    bt.add_strategy(strategy_name="s", interval="1m", get_signal=signal_table({("BTC", 10): long_at_market()}),
                    risk_name="ok", risk_list=["r"])
    order = []
    bt.listen_risk(lambda c: order.append("event"))
    bt.add_risk(risk_name="spy", validations=[lambda p: None],
                callbacks={"on_rejected": lambda s, p: order.append("callback")})
    run()
    assert calls == ["first"] and allowed == ["BTC"] and rejected == ["r"]
    stats = bt.Risk.get_data("BTC", "s")
    assert stats.total_rejections == 1 and stats.by_symbol == {"BTC": 1} and stats.by_strategy == {"s": 1}
    assert stats.event_list[0].rejection_note == "no"


def test_event_before_on_rejected():
    order = []
    bt.add_risk(risk_name="r", validations=[lambda p: "no"],
                callbacks={"on_rejected": lambda s, p: order.append("callback")})
    bt.add_strategy(strategy_name="s", interval="1m", get_signal=signal_table({("BTC", 10): long_at_market()}),
                    risk_name="r")
    bt.listen_risk(lambda c: order.append("event"))
    run()
    assert order == ["event", "callback"]


def test_activation_checks_risk_at_price_open_and_time():
    payloads = []

    def refuse_activation(p):
        payloads.append(p)
        return "no fills today" if len(payloads) > 1 else None

    bt.add_risk(risk_name="r", validations=[refuse_activation])
    quiet_market({"ETH": {13: (100, 100.2, 98.9, 99.5)}}, name="ex2")
    bt.add_strategy(strategy_name="s", interval="1m", risk_name="r", get_signal=signal_table(
        {("ETH", 10): {"position": "long", "price_open": 99, "price_take_profit": 101, "price_stop_loss": 98,
                       "minute_estimated_time": 60}}))
    (cancelled,) = list(bt.Backtest.run("ETH", strategy_name="s", exchange_name="ex2", frame_name="f"))
    assert (cancelled.reason, cancelled.close_timestamp) == ("risk_reject", T0 + 14 * M)
    assert (payloads[0].current_price, payloads[0].timestamp) == (100.0, T0 + 10 * M)
    assert (payloads[1].current_price, payloads[1].timestamp) == (99, T0 + 14 * M)


def test_unknown_risk_name_fails_the_run_call():
    bt.add_strategy(strategy_name="s", interval="1m", get_signal=lambda s, w: None, risk_name="missing")
    with pytest.raises(bt.UnknownNameError, match="risk 'missing' not found"):
        bt.Backtest.run("BTC", strategy_name="s", exchange_name="ex", frame_name="f")
