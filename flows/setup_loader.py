"""Load a user "setup": a module whose import registers schemas (SPEC §18).

A setup is an importable module path (``examples.demo_setup``) or a ``.py`` file.
Every worker (thread, process, Dask worker) loads it by the same string, so the
registry can be rebuilt anywhere. Loading is idempotent per process.
"""
from __future__ import annotations

import hashlib
import importlib
import importlib.util
import sys
import threading
from pathlib import Path
from types import ModuleType

_lock = threading.Lock()


class SetupError(Exception):
    """The setup could not be found or raised while importing."""


def setup_module_name(setup: str) -> str:
    """The ``sys.modules`` name a setup is loaded under."""
    if setup.endswith(".py"):
        path = Path(setup).resolve()
        return f"btk_setup_{path.stem}_{hashlib.sha256(str(path).encode()).hexdigest()[:8]}"
    return setup


def load_setup(setup: str) -> ModuleType:
    """Import the setup once per process and return the module."""
    name = setup_module_name(setup)
    with _lock:
        if name in sys.modules:
            return sys.modules[name]
        if setup.endswith(".py"):
            path = Path(setup).resolve()
            if not path.is_file():
                raise SetupError(f"setup file {setup!r} does not exist")
            spec = importlib.util.spec_from_file_location(name, path)
            assert spec is not None and spec.loader is not None
            module = importlib.util.module_from_spec(spec)
            sys.modules[name] = module
            try:
                spec.loader.exec_module(module)
            except BaseException as exc:
                del sys.modules[name]
                raise SetupError(f"setup {setup!r} failed: {type(exc).__name__}: {exc}") from exc
            return module
        try:
            return importlib.import_module(setup)
        except ModuleNotFoundError as exc:
            raise SetupError(f"setup module {setup!r} not found ({exc})") from exc


def setup_digest(setup: str) -> str:
    """A hash of the setup's source, for cache keys that change when the setup changes."""
    path = Path(setup) if setup.endswith(".py") else Path(load_setup(setup).__file__ or "")
    return hashlib.sha256(path.read_bytes()).hexdigest()
