"""btk: backtest and live-trade one strategy function.

This module is the whole public surface (SPEC §17); everything else in the
package is private. Importing it loads numpy only: pandas, pyarrow, ccxt,
ollama and Prefect are imported where they are used.
"""
from types import ModuleType as _ModuleType

from .broker import Broker, BrokerEvent, CcxtBroker, EntrySizing, PaperBroker
from .candles import Candle, Candles
from .clock import set_clock
from .config import get_config, get_default_config, set_config
from .context import format_price, format_quantity, get_average_price, get_candles, get_date, get_mode
from .datacheck import DataCheck, check_data
from .errors import (
    AlreadyRunningError,
    AveragePriceError,
    BtkError,
    CandleDataError,
    CandleDefectError,
    CandleFetchError,
    CandleSourceUnusable,
    ConfigValidationError,
    ContextError,
    DuplicateNameError,
    LookAheadError,
    PersistCorruptError,
    PersistError,
    SchemaValidationError,
    SignalTimeoutError,
    SignalValidationError,
    SizingError,
    UnknownNameError,
    UserCodeError,
)
from .events import (
    listen_backtest_progress,
    listen_broker,
    listen_done_backtest,
    listen_done_backtest_once,
    listen_done_live,
    listen_done_live_once,
    listen_done_walker,
    listen_done_walker_once,
    listen_error,
    listen_exit,
    listen_optimizer_progress,
    listen_partial_loss,
    listen_partial_loss_once,
    listen_partial_profit,
    listen_partial_profit_once,
    listen_performance,
    listen_ping,
    listen_ping_once,
    listen_risk,
    listen_risk_once,
    listen_signal,
    listen_signal_backtest,
    listen_signal_backtest_once,
    listen_signal_live,
    listen_signal_live_once,
    listen_signal_once,
    listen_validation,
    listen_walker,
    listen_walker_complete,
    listen_walker_once,
    listen_walker_progress,
)
from .lookahead import check_lookahead
from .modes.backtest import Backtest
from .modes.live import Live
from .modes.walker import Walker, WalkerCompleteContract, WalkerContract, WalkerProgress, WalkerResults
from .optimizer import Optimizer, OptimizerEntry, OptimizerProgress
from .persist import PersistBase, use_persist_adapter
from .registry import (
    add_exchange,
    add_frame,
    add_optimizer,
    add_risk,
    add_sizing,
    add_strategy,
    add_walker,
    list_exchanges,
    list_frames,
    list_optimizers,
    list_risks,
    list_sizings,
    list_strategies,
    list_walkers,
    strategy_variants,
)
from .reports.api import Heat, Partial, Performance, Risk, Schedule
from .reports.signal_dump import dump_signal
from .reset import reset_all
from .results import (
    ActiveResult,
    BacktestProgress,
    CancelledResult,
    ClosedResult,
    DoneContract,
    IdleResult,
    OpenedResult,
    PartialContract,
    PerformanceContract,
    PingContract,
    Pnl,
    RunStatus,
    ScheduledResult,
    TickResult,
)
from .risk import ActivePosition, RiskContract, RiskValidationPayload
from .schemas import (
    ExchangeSchema,
    FrameSchema,
    OptimizerSchema,
    RiskSchema,
    SizingSchema,
    StrategySchema,
    WalkerSchema,
)
from .signals import SignalDto, SignalRow
from .sizing import PositionSize
from .stats import (
    BacktestStatistics,
    HeatmapRow,
    HeatmapStatistics,
    LiveStatistics,
    MetricStats,
    PartialStatistics,
    PerformanceStatistics,
    RiskStatistics,
    ScheduleStatistics,
)

__all__ = sorted(name for name, value in globals().items()
                 if not name.startswith("_") and not isinstance(value, _ModuleType))
