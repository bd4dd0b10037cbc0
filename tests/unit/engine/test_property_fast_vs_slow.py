"""The vectorised evaluation must equal a slow, literal per-candle reading of SPEC §5.

The reference below walks candle by candle exactly as §5.2–§5.5 are written.
Hypothesis feeds both the engine (through ``Backtest.run``) and the reference
random candles with gaps, random long/short, immediate/scheduled signals, both
same-candle priorities and random partial levels; the event streams must be identical.
"""
import math

from hypothesis import HealthCheck, assume, event, given, settings
from hypothesis import strategies as st

import btk_core as bt
from btk_core import clock
from btk_core.config import snapshot
from btk_core.errors import SignalValidationError
from btk_core.signals import build_row
from tests.helpers import T0, ListSource, M

WHEN = 30  # the signal is asked for at m30


def vwap(candles, t, n=5):
    a = t - t % M
    window = [candles[m] for m in sorted(candles) if a - n * M <= T0 + m * M < a]
    if not window:
        return None
    num = den = csum = 0.0
    for _o, h, l, c, v in window:
        num += ((h + l) + c) / 3 * v
        den += v
        csum += c
    return num / den if den != 0 else csum / len(window)


def reference(candles, row, cfg, now):
    """Events after intake, candle by candle (the obviously-correct version)."""
    out = []
    long = row.position == "long"
    minutes = sorted(m for m in candles if T0 + m * M >= row.scheduled_at)
    fired = {"profit": set(), "loss": set()}

    def milestones(h, l, t, profit=True):
        o = row.price_open
        for kind, levels, extreme in (("profit", cfg.CC_PARTIAL_PROFIT_LEVELS, h if long else l),
                                      ("loss", cfg.CC_PARTIAL_LOSS_LEVELS, l if long else h)):
            if kind == "profit" and not profit:
                continue
            if kind == "profit":
                g = extreme - o if long else o - extreme
                prog = g / abs(row.price_take_profit - o) * 100 if g > 0 else None
            else:
                b = o - extreme if long else extreme - o
                prog = b / abs(o - row.price_stop_loss) * 100 if b > 0 else None
            for level in levels:
                if prog is not None and min(prog, 100) >= level and level not in fired[kind]:
                    fired[kind].add(level)
                    out.append(("partial", kind, level, t, extreme))

    def position(start_minutes, pending_at):
        t_exp = pending_at + row.minute_estimated_time * M
        for m in start_minutes:
            o, h, l, c, v = candles[m]
            e = T0 + m * M + M
            if e > t_exp or e > now:
                break
            tp_hit = h >= row.price_take_profit if long else l <= row.price_take_profit
            sl_hit = l <= row.price_stop_loss if long else h >= row.price_stop_loss
            if tp_hit and sl_hit:
                reason = cfg.CC_SAME_CANDLE_PRIORITY
            elif tp_hit or sl_hit:
                reason = "take_profit" if tp_hit else "stop_loss"
            else:
                milestones(h, l, e)
                continue
            out.append(("closed", reason, row.price_take_profit if reason == "take_profit" else row.price_stop_loss, e))
            return
        if now >= t_exp:
            price = vwap(candles, t_exp)
            out.append(("closed", "time_expired", price, t_exp) if price is not None else ("stuck",))
        else:
            out.append(("unresolved",))

    if not row.is_scheduled:
        out.append(("opened", row.pending_at, row.price_open))
        position([m for m in minutes if T0 + m * M >= row.pending_at], row.pending_at)
        return out
    out.append(("scheduled", row.scheduled_at))
    t_to = row.scheduled_at + cfg.CC_SCHEDULE_AWAIT_MINUTES * M
    for i, m in enumerate(minutes):
        o, h, l, c, v = candles[m]
        e = T0 + m * M + M
        if e > t_to or e > now:
            break
        if (l <= row.price_open) if long else (h >= row.price_open):
            out.append(("opened", e, row.price_open))
            if (l <= row.price_stop_loss) if long else (h >= row.price_stop_loss):
                out.append(("closed", "stop_loss", row.price_stop_loss, e))
                return out
            milestones(h, l, e, profit=False)
            position(minutes[i + 1:], e)
            return out
        if (l <= row.price_stop_loss) if long else (h >= row.price_stop_loss):
            out.append(("cancelled", "price_reject", e))
            return out
        out.append(("ping", e))
    if now >= t_to:
        out.append(("cancelled", "timeout", t_to))
    else:
        out.append(("unresolved",))
    return out


@st.composite
def market(draw):
    n = draw(st.integers(60, 260))
    price = 100.0
    candles = {}
    for m in range(0, n):
        step = draw(st.floats(-0.6, 0.6))
        o, c = price, max(1.0, price + step)
        spike = draw(st.sampled_from([0.0] * 9 + [5.0]))  # now and then a candle wide enough for TP and SL
        h = max(o, c) + draw(st.floats(0, 0.8)) + spike
        l = max(0.5, min(o, c) - draw(st.floats(0, 0.8)) - spike)
        v = draw(st.sampled_from([0.0, 1.0, 2.5, 10.0]))
        price = c
        if m < WHEN or draw(st.floats(0, 1)) > 0.1:  # gaps after the decision time
            candles[m] = (o, h, l, c, v)
    return candles


@st.composite
def signal(draw):
    long = draw(st.booleans())
    sign = 1 if long else -1
    tp = draw(st.floats(0.6, 4.0))
    sl = draw(st.floats(0.6, 4.0))
    out = {"position": "long" if long else "short",
           "minute_estimated_time": draw(st.integers(1, 240))}
    if draw(st.booleans()):  # limit entry away from the market
        entry = 100 * (1 - sign * draw(st.floats(0.0, 1.5)) / 100)
        out["price_open"] = entry
    else:
        entry = 100.0
    out["price_take_profit"] = entry * (1 + sign * tp / 100)
    out["price_stop_loss"] = entry * (1 - sign * sl / 100)
    return out


levels = st.lists(st.floats(1, 99), max_size=4, unique=True).map(lambda xs: tuple(sorted(xs)))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(candles=market(), sig=signal(), priority=st.sampled_from(["stop_loss", "take_profit"]),
       profit_levels=levels, loss_levels=levels, await_minutes=st.integers(1, 150),
       now_minute=st.one_of(st.just(None), st.integers(WHEN + 1, 300)), observe=st.booleans())
def test_engine_equals_reference(candles, sig, priority, profit_levels, loss_levels, await_minutes, now_minute,
                                 observe):
    """``observe=False``: nobody listens to pings or milestones, so the engine takes its shortcuts
    (jump to the activation candle, milestones recorded for the report store in one go with the position's
    close); the results and the recorded milestones (SPEC §20.5) must not change."""
    for m in range(WHEN - 5, WHEN):
        candles[m] = candles.get(m) or (100.0, 100.2, 99.8, 100.0, 10.0)
    bt.reset_all()  # Hypothesis runs many examples inside one test: each starts like a fresh process
    now = T0 + (now_minute if now_minute is not None else 10_000) * M
    clock.set_clock(lambda: now)
    try:
        bt.set_config(CC_SAME_CANDLE_PRIORITY=priority, CC_PARTIAL_PROFIT_LEVELS=profit_levels,
                      CC_PARTIAL_LOSS_LEVELS=loss_levels, CC_SCHEDULE_AWAIT_MINUTES=await_minutes,
                      CC_CANDLE_BLOCK_SIZE=37, CC_GET_CANDLES_RETRY_COUNT=1)
        cfg = snapshot()
        p = vwap(candles, T0 + WHEN * M)
        try:
            row = build_row(sig, current_price=p, when=T0 + WHEN * M, symbol="BTC", exchange_name="ex",
                            strategy_name="s", cfg=cfg)
        except SignalValidationError:
            assume(False)
        expected = reference(candles, row, cfg, now)
        partials = [e for e in expected if e[0] == "partial"]
        event(f"outcome: {expected[-1][0]} {expected[-1][1] if len(expected[-1]) > 1 else ''}")
        event(f"partials: {min(3, sum(1 for e in expected if e[0] == 'partial'))}")
        tp, sl = row.price_take_profit, row.price_stop_loss
        lo_b, hi_b = min(tp, sl), max(tp, sl)
        if any(T0 + m * M >= row.scheduled_at and candles[m][2] <= lo_b and candles[m][1] >= hi_b for m in candles):
            event("a candle spans TP and SL")

        rows = [[T0 + m * M, *candles[m]] for m in sorted(candles)]
        bt.add_exchange(exchange_name="ex", get_candles=ListSource({"1m": rows}))
        bt.add_frame(frame_name="f", interval="1m", start_date=T0 + WHEN * M, end_date=T0 + WHEN * M)
        bt.add_strategy(strategy_name="s", interval="1m", get_signal=lambda s, w: dict(sig, id=row.id))
        got = []
        bt.listen_signal(lambda r: got.append(
            ("scheduled", r.timestamp) if r.action == "scheduled" else
            ("opened", r.timestamp, r.current_price) if r.action == "opened" else
            ("closed", r.close_reason, r.current_price, r.close_timestamp) if r.action == "closed" else
            ("cancelled", r.reason, r.close_timestamp) if r.action == "cancelled" else
            ("unresolved",) if r.action == "active" else None))
        if observe:
            bt.listen_ping(lambda e: got.append(("ping", e.timestamp)))
            bt.listen_partial_profit(lambda e: got.append(("partial", "profit", e.level, e.timestamp,
                                                           e.current_price)))
            bt.listen_partial_loss(lambda e: got.append(("partial", "loss", e.level, e.timestamp, e.current_price)))
        else:
            expected = [e for e in expected if e[0] not in ("ping", "partial")]
        errors = []
        bt.listen_error(errors.append)
        list(bt.Backtest.run("BTC", strategy_name="s", exchange_name="ex", frame_name="f"))
        got = [g for g in got if g is not None]
        recorded = bt.Partial.get_data("BTC", "s").event_list
        assert [("partial", e.kind, e.level, e.timestamp, e.current_price) for e in reversed(recorded)] == partials
        if expected[-1] == ("stuck",):
            assert got == expected[:-1] and isinstance(errors[-1], bt.AveragePriceError)
        else:
            assert got == expected
            for g in got:
                if g[0] == "closed":
                    assert not math.isnan(g[2])
    finally:
        clock.set_clock()
