"""What the backtest and live APIs share: the pairs they hold and the questions users ask about them."""
from __future__ import annotations

from ..pair_machine import PairMachine
from ..registry import lookup
from ..signals import SignalRow


class PairModeApi:
    """The machine of each (symbol, strategy) of a mode, kept after a run so its state can be read."""

    _machines: dict[tuple[str, str], PairMachine]

    def _machine(self, symbol: str, strategy_name: str) -> PairMachine | None:
        lookup("strategy", strategy_name)  # an unregistered name raises (SPEC §19.11)
        return self._machines.get((symbol, strategy_name))

    def get_pending_signal(self, symbol: str, strategy_name: str) -> SignalRow | None:
        """The pair's open position, if any."""
        machine = self._machine(symbol, strategy_name)
        return machine.pending if machine else None

    def get_scheduled_signal(self, symbol: str, strategy_name: str) -> SignalRow | None:
        """The pair's waiting limit entry, if any."""
        machine = self._machine(symbol, strategy_name)
        return machine.scheduled if machine else None

    def _request_cancel(self, symbol: str, strategy_name: str, cancel_id: str | None) -> bool:
        """Flag the pair's waiting row for cancellation; False when it has none (SPEC §5.4)."""
        machine = self._machines.get((symbol, strategy_name))
        return machine is not None and machine.request_cancel(cancel_id)
