"""Every exception btk raises or emits (SPEC §0.6).

All of them derive from :class:`BtkError` so a caller can catch "anything btk
refused" with one clause, while the secondary bases (``ValueError``,
``KeyError``, ``TimeoutError``) keep the idiomatic Python meaning.
"""
from __future__ import annotations

from typing import Any


class BtkError(Exception):
    """Base of every btk exception."""


class ConfigValidationError(BtkError, ValueError):
    """``set_config`` rejected one or more values (SPEC §1)."""


class SchemaValidationError(BtkError, ValueError):
    """An ``add_*`` schema is malformed; the message starts ``"<kind> schema validation failed: "``."""


class DuplicateNameError(BtkError):
    """A schema of that kind and name is already registered."""


class UnknownNameError(BtkError, KeyError):
    """A run or getter named a schema that was never registered."""

    def __str__(self) -> str:  # KeyError would repr() the message; keep it readable
        return str(self.args[0]) if self.args else ""


class ContextError(BtkError):
    """A context helper was called outside a run."""


class AlreadyRunningError(BtkError):
    """The (symbol, strategy, mode) is already inside another run."""


class SignalValidationError(BtkError, ValueError):
    """A signal broke the rules of SPEC §3.5."""


class SignalTimeoutError(BtkError, TimeoutError):
    """``get_signal`` exceeded ``CC_MAX_SIGNAL_GENERATION_SECONDS``."""


class CandleDataError(BtkError):
    """Base of the candle data errors."""


class CandleFetchError(CandleDataError):
    """The user's ``get_candles`` raised or broke the contract on every attempt."""


class CandleSourceUnusable(BtkError, ValueError):
    """Raised by a source whose data cannot be used as it is (a file without a time column, timestamps that
    cannot be read): retrying cannot heal it, so the read fails at once (SPEC §20.3). The message says what
    was found."""


class UnknownSymbolError(CandleSourceUnusable, LookupError):
    """An in-process source (memory, files) holds no candles of the symbol asked for."""


class CandleDefectError(CandleDataError):
    """Emitted (never raised): defective candles were excluded from a block.

    ``defects`` lists ``(timestamp, reason)`` pairs.
    """

    def __init__(self, message: str, defects: tuple[tuple[int, str], ...] = ()) -> None:
        super().__init__(message)
        self.defects = defects


class AveragePriceError(CandleDataError):
    """No candle exists for an average price."""


class UserCodeError(BtkError):
    """Wraps an exception raised by user code; ``__cause__`` is the original."""

    def __init__(self, message: str, *, symbol: str | None = None,
                 strategy_name: str | None = None, where: str = "") -> None:
        super().__init__(message)
        self.symbol = symbol
        self.strategy_name = strategy_name
        self.where = where


class LookAheadError(BtkError):
    """A batch strategy's signal at ``timestamp`` depends on candles that closed after it."""

    def __init__(self, message: str, *, strategy_name: str, symbol: str, timestamp: int) -> None:
        super().__init__(message)
        self.strategy_name = strategy_name
        self.symbol = symbol
        self.timestamp = timestamp


class PersistError(BtkError):
    """Emitted (never raised): a state write failed."""

    def __init__(self, message: str, *, store: str = "", path: str = "", cause: Any = None) -> None:
        super().__init__(message)
        self.store = store
        self.path = path
        self.cause = cause


class PersistCorruptError(PersistError):
    """Emitted: a state file was unreadable or foreign and was moved aside."""


class SizingError(BtkError, ValueError):
    """Position sizing refused its inputs (SPEC §11)."""


def wrap_user_error(exc: BaseException, *, where: str, symbol: str | None = None,
                    strategy_name: str | None = None) -> UserCodeError:
    """Build the ``UserCodeError`` that reports ``exc`` raised by user code at ``where``."""
    detail = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
    err = UserCodeError(f"{where} raised {detail}", symbol=symbol,
                        strategy_name=strategy_name, where=where)
    err.__cause__ = exc
    return err
