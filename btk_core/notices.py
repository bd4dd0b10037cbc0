"""The notifications of one state change, as data (SPEC §20.2).

A transition of the pair state machine (open, schedule, cancel, close, milestone) produces a list of
``Notice`` values. Backtests deliver them at once; live first persists them together with the new state
in one atomic write of the pair's journal, delivers them, then clears the record — so a process killed in
between delivers them again after the restart, with the same ``delivery_id``.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Literal

from .results import CancelReason, CloseReason, Pnl
from .signals import SignalRow, row_from_json

NoticeKind = Literal["opened", "scheduled", "cancelled", "closed", "partial_profit", "partial_loss"]
NOTICE_KINDS = ("opened", "scheduled", "cancelled", "closed", "partial_profit", "partial_loss")


@dataclass(frozen=True, slots=True)
class Notice:
    """One notification: which change, of which row, at what price and time, and the change's details
    (``close_reason`` and ``pnl`` of a close, ``reason`` and ``cancel_id`` of a cancel, ``level`` of a
    milestone)."""

    kind: NoticeKind
    row: SignalRow
    price: float | None
    at: int
    close_reason: CloseReason | None = None
    pnl: Pnl | None = None
    reason: CancelReason | None = None
    cancel_id: str | None = None
    level: float | None = None

    @property
    def delivery_id(self) -> str:
        """``<signal id>:<kind>`` (``:<level>`` for milestones), the same on every repeat."""
        if self.level is not None:
            return f"{self.row.id}:{self.kind}:{self.level:g}"
        return f"{self.row.id}:{self.kind}"

    def to_json(self) -> dict[str, Any]:
        data = {"kind": self.kind, "row": asdict(self.row), "price": self.price, "at": self.at}
        for name in ("close_reason", "reason", "cancel_id", "level"):
            value = getattr(self, name)
            if value is not None:
                data[name] = value
        if self.pnl is not None:
            data["pnl"] = asdict(self.pnl)
        return data


def notice_from_json(data: Any, cfg: Any) -> Notice:
    """A stored notice back from JSON; ``ValueError`` names what is wrong."""
    if not isinstance(data, dict):
        raise ValueError(f"a notice must be a JSON object, got {type(data).__name__}")
    kind = data.get("kind")
    if kind not in NOTICE_KINDS:
        raise ValueError(f"notice kind must be one of {list(NOTICE_KINDS)}, got {kind!r}")
    price, at = data.get("price"), data.get("at")
    if price is not None and (isinstance(price, bool) or not isinstance(price, (int, float))):
        raise ValueError(f"notice price must be a number or null, got {price!r}")
    if type(at) is not int:
        raise ValueError(f"notice at must be an int, got {at!r}")
    pnl = data.get("pnl")
    try:
        pnl_value = None if pnl is None else Pnl(float(pnl["pnl_percentage"]), float(pnl["price_open"]),
                                                 float(pnl["price_close"]))
        level = data.get("level")
        return Notice(kind, row_from_json(data.get("row"), cfg), None if price is None else float(price), at,
                      close_reason=data.get("close_reason"), pnl=pnl_value, reason=data.get("reason"),
                      cancel_id=data.get("cancel_id"), level=None if level is None else float(level))
    except (KeyError, TypeError) as exc:
        raise ValueError(f"notice {kind}: {type(exc).__name__}: {exc}") from exc
