"""Position sizing: fixed percentage, Kelly criterion and ATR based, with caps (SPEC §11)."""
from __future__ import annotations

import math
from typing import Any

from .errors import SizingError
from .guard import call_user
from .registry import lookup
from .schemas import SizingSchema


def _positive(name: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value <= 0:
        raise SizingError(f"{name} must be a positive finite number, got {value!r}")
    return float(value)


class PositionSizeApi:
    """``PositionSize``: quantities from a registered sizing schema."""

    @staticmethod
    def _schema(sizing_name: str, requested: str) -> SizingSchema:
        schema: SizingSchema = lookup("sizing", sizing_name)
        if schema.method != requested:
            raise SizingError(f"sizing '{sizing_name}' is configured as '{schema.method}' but '{requested}' "
                              "was requested")
        return schema

    @staticmethod
    def _finish(schema: SizingSchema, quantity: float, balance: float, price_open: float,
                params: dict[str, Any]) -> float:
        """Caps in the documented order, then ``on_calculate``."""
        if schema.max_position_percentage is not None:
            quantity = min(quantity, balance * schema.max_position_percentage / 100 / price_open)
        if schema.min_position_size is not None:
            quantity = max(quantity, schema.min_position_size)
        if schema.max_position_size is not None:
            quantity = min(quantity, schema.max_position_size)
        on_calculate = schema.callbacks.get("on_calculate")
        if on_calculate is not None:
            call_user(on_calculate, quantity, params, where="on_calculate", symbol=params.get("symbol"))
        return quantity

    def fixed_percentage(self, symbol: str, balance: float, price_open: float, price_stop_loss: float, *,
                         sizing_name: str) -> float:
        """Risk ``risk_percentage`` of the balance between the entry and the stop loss."""
        schema = self._schema(sizing_name, "fixed-percentage")
        balance, price_open = _positive("balance", balance), _positive("price_open", price_open)
        price_stop_loss = _positive("price_stop_loss", price_stop_loss)
        distance = abs(price_open - price_stop_loss)
        if distance == 0:
            raise SizingError("Stop-loss distance cannot be zero")
        assert schema.risk_percentage is not None  # the schema requires it for this method
        quantity = balance * schema.risk_percentage / 100 / distance
        return self._finish(schema, quantity, balance, price_open, {
            "symbol": symbol, "sizing_name": sizing_name, "method": schema.method, "balance": balance,
            "price_open": price_open, "price_stop_loss": price_stop_loss})

    def kelly_criterion(self, symbol: str, balance: float, price_open: float, win_rate: float,
                        win_loss_ratio: float, *, sizing_name: str) -> float:
        """A fraction (``kelly_multiplier``) of the Kelly bet; never negative."""
        schema = self._schema(sizing_name, "kelly-criterion")
        balance, price_open = _positive("balance", balance), _positive("price_open", price_open)
        if isinstance(win_rate, bool) or not isinstance(win_rate, (int, float)) or not 0 < win_rate < 1:
            raise SizingError("win_rate must be between 0 and 1")
        if isinstance(win_loss_ratio, bool) or not isinstance(win_loss_ratio, (int, float)) \
                or not math.isfinite(win_loss_ratio) or win_loss_ratio <= 0:
            raise SizingError("win_loss_ratio must be positive")
        k = (win_rate * win_loss_ratio - (1 - win_rate)) / win_loss_ratio
        quantity = balance * max(0, k) * schema.kelly_multiplier / price_open
        return self._finish(schema, quantity, balance, price_open, {
            "symbol": symbol, "sizing_name": sizing_name, "method": schema.method, "balance": balance,
            "price_open": price_open, "win_rate": win_rate, "win_loss_ratio": win_loss_ratio, "kelly": k})

    def atr_based(self, symbol: str, balance: float, price_open: float, atr: float, *, sizing_name: str) -> float:
        """Risk ``risk_percentage`` of the balance over ``atr_multiplier`` ATRs."""
        schema = self._schema(sizing_name, "atr-based")
        balance, price_open = _positive("balance", balance), _positive("price_open", price_open)
        if isinstance(atr, bool) or not isinstance(atr, (int, float)) or not math.isfinite(atr) or atr <= 0:
            raise SizingError("ATR must be positive")
        assert schema.risk_percentage is not None  # the schema requires it for this method
        quantity = balance * schema.risk_percentage / 100 / (atr * schema.atr_multiplier)
        return self._finish(schema, quantity, balance, price_open, {
            "symbol": symbol, "sizing_name": sizing_name, "method": schema.method, "balance": balance,
            "price_open": price_open, "atr": atr})


PositionSize = PositionSizeApi()
