"""SPEC §17.1 registration: duplicates, malformed schemas, unknown names, listing order."""
from datetime import UTC, datetime

import pytest

import btk_core as bt
from btk_core.registry import lookup


def noop(*_a, **_k):
    return None


def test_list_in_registration_order_and_lookup():
    bt.add_exchange(exchange_name="b", get_candles=noop)
    bt.add_exchange(exchange_name="a", get_candles=noop)
    assert [e.exchange_name for e in bt.list_exchanges()] == ["b", "a"]
    assert lookup("exchange", "a").exchange_name == "a"


def test_duplicate_names_per_kind():
    bt.add_strategy(strategy_name="s", interval="5m", get_signal=noop)
    with pytest.raises(bt.DuplicateNameError, match="^strategy 's' already exists$"):
        bt.add_strategy(strategy_name="s", interval="1m", get_signal=noop)
    bt.add_frame(frame_name="s", interval="1m", start_date=0, end_date=1)  # other kind: fine


def test_unknown_name_names_kind_and_name():
    with pytest.raises(bt.UnknownNameError) as info:
        lookup("walker", "nope")
    assert str(info.value) == "walker 'nope' not found"
    assert isinstance(info.value, KeyError)


@pytest.mark.parametrize("call, fragment", [
    (lambda: bt.add_exchange(exchange_name="", get_candles=noop), "exchange_name must be a non-empty string"),
    (lambda: bt.add_exchange(exchange_name="x", get_candles=5), "get_candles must be callable"),
    (lambda: bt.add_strategy(strategy_name="s", interval="2h", get_signal=noop), "interval must be one of"),
    (lambda: bt.add_strategy(strategy_name="s", interval="1m", get_signal=noop, risk_list="r"),
     "risk_list must be a list"),
    (lambda: bt.add_strategy(strategy_name="s", interval="1m", get_signal=noop, callbacks={"on_opne": noop}),
     "unknown callbacks ['on_opne']"),
    (lambda: bt.add_strategy(strategy_name="s", interval="1m", get_signal=noop, callbacks={"on_open": 3}),
     "callback on_open must be callable"),
    (lambda: bt.add_frame(frame_name="f", interval="1m", start_date=10, end_date=5),
     "start_date must be <= end_date"),
    (lambda: bt.add_frame(frame_name="f", interval="1w", start_date=0, end_date=5), "interval must be one of"),
    (lambda: bt.add_frame(frame_name="f", interval="1m", start_date="2024", end_date=5),
     "start_date must be a datetime or int"),
    (lambda: bt.add_risk(risk_name="r", validations=[3]), "validations[0] must be a callable"),
    (lambda: bt.add_risk(risk_name="r", validations=[{"validate": noop, "x": 1}]), "unknown keys ['x']"),
    (lambda: bt.add_sizing(sizing_name="z", method="fixed-percentage"), "risk_percentage must be a finite number > 0"),
    (lambda: bt.add_sizing(sizing_name="z", method="martingale"), "method must be one of"),
    (lambda: bt.add_sizing(sizing_name="z", method="kelly-criterion", kelly_multiplier=-1),
     "kelly_multiplier must be a finite number >= 0"),
    (lambda: bt.add_walker(walker_name="w", exchange_name="e", frame_name="f", strategies=[]),
     "strategies must be a non-empty list"),
    (lambda: bt.add_walker(walker_name="w", exchange_name="e", frame_name="f", strategies=["a", "a"]),
     "strategies must be unique"),
    (lambda: bt.add_walker(walker_name="w", exchange_name="e", frame_name="f", strategies=["a"], metric="pnl"),
     "metric must be one of"),
    (lambda: bt.add_optimizer(optimizer_name="o", range_train=[], range_test={"start_date": 0, "end_date": 1},
                              source=[noop], get_prompt=noop), "range_train must be a non-empty list"),
    (lambda: bt.add_optimizer(optimizer_name="o", range_train=[{"start_date": 0, "end_date": 1}],
                              range_test={"start_date": 0}, source=[{"name": "x"}], get_prompt=noop),
     "range_test must be a mapping with start_date and end_date"),
])
def test_malformed_schemas(call, fragment):
    with pytest.raises(bt.SchemaValidationError) as info:
        call()
    kind = str(info.value).split(" ")[0]
    assert str(info.value).startswith(f"{kind} schema validation failed: ")
    assert fragment in str(info.value)


def test_malformed_schema_is_not_registered():
    with pytest.raises(bt.SchemaValidationError):
        bt.add_strategy(strategy_name="s", interval="bad", get_signal=noop)
    assert bt.list_strategies() == []
    bt.add_strategy(strategy_name="s", interval="1m", get_signal=noop)  # the name is still free


def test_frame_dates_become_ms_and_naive_is_utc():
    f = bt.add_frame(frame_name="f", interval="1m", start_date=datetime(2024, 1, 1),
                     end_date=datetime(2024, 1, 1, 0, 20, tzinfo=UTC))
    assert (f.start_ms, f.end_ms) == (1704067200000, 1704067200000 + 20 * 60000)


def test_callbacks_from_object_or_mapping():
    class Hooks:
        def on_open(self, *a):
            pass
        on_close = None

    s = bt.add_strategy(strategy_name="s", interval="1m", get_signal=noop, callbacks=Hooks())
    assert set(s.callbacks) == {"on_open"}
    s2 = bt.add_strategy(strategy_name="s2", interval="1m", get_signal=noop, callbacks={"on_close": noop})
    assert s2.callbacks["on_close"] is noop
    with pytest.raises(TypeError):
        s2.callbacks["on_open"] = noop  # read-only


def test_risk_names_order_and_validation_forms():
    s = bt.add_strategy(strategy_name="s", interval="1m", get_signal=noop, risk_name="a", risk_list=["b", "a", "c"])
    assert s.risk_names == ("a", "b", "c")
    r = bt.add_risk(risk_name="r", validations=[noop, {"validate": noop, "note": "n"}])
    assert [v.note for v in r.validations] == [None, "n"]
