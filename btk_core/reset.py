"""``reset_all``: every piece of process-wide state back to how a fresh process starts.

btk keeps state per process on purpose (the registry of schemas, the report stores behind ``get_data``,
the pairs each mode holds, listeners, the config, the clock, the persistence adapters, the files
exchange's cache of parsed files). Tests, notebooks and long-lived workers that reuse a process call this
one function instead of knowing every store.
"""
from __future__ import annotations


def reset_all() -> None:
    """Forget every schema, run, stored result, listener, adapter and cached file; default config, system clock."""
    from . import clock, config, events, registry
    from .exchanges import files
    from .modes.backtest import Backtest
    from .modes.live import Live
    from .modes.walker import Walker
    from .persist import reset_persist_adapters
    from .reports import stores
    Backtest._reset()
    Live._reset()
    Walker._reset()
    stores.clear_all()
    registry.clear_registry()
    config.reset_config()
    events.reset_listeners()
    clock.set_clock()
    reset_persist_adapters()
    files.clear_cache()
