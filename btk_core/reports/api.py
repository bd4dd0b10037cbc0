"""``Heat``, ``Schedule``, ``Risk``, ``Partial`` and ``Performance``: statistics, reports and dumps (SPEC §17.4)."""
from __future__ import annotations

from ..registry import lookup
from ..stats import (
    HeatmapStatistics,
    PartialStatistics,
    PerformanceStatistics,
    RiskStatistics,
    ScheduleStatistics,
    heatmap_statistics,
    performance_statistics,
    risk_statistics,
    schedule_statistics,
)
from . import documents, stores
from .render import dump


class HeatApi:
    """A strategy's portfolio heatmap: one row per symbol it traded."""

    def get_data(self, strategy_name: str, backtest: bool = True) -> HeatmapStatistics:
        lookup("strategy", strategy_name)
        return heatmap_statistics(stores.HEAT.pnls_by_symbol(strategy_name, backtest))

    def get_report(self, strategy_name: str, backtest: bool = True) -> str:
        return documents.heatmap_report(strategy_name, self.get_data(strategy_name, backtest))

    def dump(self, strategy_name: str, backtest: bool = True, path: str = "./dump/heatmap") -> str:
        from .writers import write_heatmap
        return write_heatmap(strategy_name, self.get_data(strategy_name, backtest), path)


class ScheduleApi:
    """Scheduled (limit) entries of a pair: how many activated, how long they waited."""

    def get_data(self, symbol: str, strategy_name: str, backtest: bool = True) -> ScheduleStatistics:
        lookup("strategy", strategy_name)
        return schedule_statistics(stores.SCHEDULE.items((symbol, strategy_name, backtest)))

    def get_report(self, symbol: str, strategy_name: str, backtest: bool = True) -> str:
        return documents.schedule_report(strategy_name, self.get_data(symbol, strategy_name, backtest),
                                         stores.SCHEDULE.seen((symbol, strategy_name, backtest)))

    def dump(self, symbol: str, strategy_name: str, backtest: bool = True, path: str = "./dump/schedule") -> str:
        return dump(self.get_report(symbol, strategy_name, backtest), path, documents.pair_file(symbol, strategy_name))


class RiskApi:
    """What the risk profiles rejected for a pair."""

    def get_data(self, symbol: str, strategy_name: str, backtest: bool = True) -> RiskStatistics:
        lookup("strategy", strategy_name)
        return risk_statistics(stores.RISK.items((symbol, strategy_name, backtest)))

    def get_report(self, symbol: str, strategy_name: str, backtest: bool = True) -> str:
        return documents.risk_report(symbol, strategy_name, self.get_data(symbol, strategy_name, backtest))

    def dump(self, symbol: str, strategy_name: str, backtest: bool = True, path: str = "./dump/risk") -> str:
        return dump(self.get_report(symbol, strategy_name, backtest), path, documents.pair_file(symbol, strategy_name))


class PartialApi:
    """Profit and loss milestones reached by a pair's positions (recorded in every run, SPEC §20.5)."""

    def get_data(self, symbol: str, strategy_name: str, backtest: bool = True) -> PartialStatistics:
        lookup("strategy", strategy_name)
        items = stores.partial_contracts(symbol, strategy_name, backtest)
        profit = sum(1 for e in items if e.kind == "profit")
        return PartialStatistics(len(items), profit, len(items) - profit, items)

    def get_report(self, symbol: str, strategy_name: str, backtest: bool = True) -> str:
        return documents.partial_report(symbol, strategy_name, self.get_data(symbol, strategy_name, backtest),
                                        stores.PARTIAL.seen((symbol, strategy_name, backtest)))

    def dump(self, symbol: str, strategy_name: str, backtest: bool = True, path: str = "./dump/partial") -> str:
        return dump(self.get_report(symbol, strategy_name, backtest), path, documents.pair_file(symbol, strategy_name))


class PerformanceApi:
    """Timings of a pair's runs (recorded in every run, SPEC §20.5)."""

    def get_data(self, symbol: str, strategy_name: str, backtest: bool = True) -> PerformanceStatistics:
        lookup("strategy", strategy_name)
        return performance_statistics(strategy_name, stores.performance_contracts(symbol, strategy_name, backtest))

    def get_report(self, symbol: str, strategy_name: str, backtest: bool = True) -> str:
        return documents.performance_report(self.get_data(symbol, strategy_name, backtest),
                                            stores.PERFORMANCE.seen((symbol, strategy_name, backtest)))

    def dump(self, symbol: str, strategy_name: str, backtest: bool = True, path: str = "./dump/performance") -> str:
        return dump(self.get_report(symbol, strategy_name, backtest), path, documents.pair_file(symbol, strategy_name))


Heat = HeatApi()
Schedule = ScheduleApi()
Risk = RiskApi()
Partial = PartialApi()
Performance = PerformanceApi()
