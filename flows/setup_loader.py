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


#: The local modules each setup imported when it was loaded (its own code beyond the setup file).
_local_imports: dict[str, list[str]] = {}


def load_setup(setup: str) -> ModuleType:
    """Import the setup once per process and return the module."""
    name = setup_module_name(setup)
    with _lock:
        if name in sys.modules:
            return sys.modules[name]
        before = set(sys.modules)
        module = _import(setup, name)
        _local_imports[name] = sorted(set(sys.modules) - before - {name})
        return module


def _import(setup: str, name: str) -> ModuleType:
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


def _is_local(file: str | None) -> bool:
    """Source code of the user's or of btk's (a checkout), not of an installed package."""
    if not file or not file.endswith(".py"):
        return False
    return not any(part in ("site-packages", "dist-packages") for part in Path(file).resolve().parts)


def _package_sources() -> list[Path]:
    """Every source file of btk's engine and flows (what decides the results besides the setup)."""
    import btk_core
    roots = [Path(btk_core.__file__).resolve().parent, Path(__file__).resolve().parent]
    return sorted(p for root in roots for p in root.rglob("*.py"))


def setup_digest(setup: str) -> str:
    """A hash of the code that decides a run's results: the setup file, every local module it imported (its
    helpers, wherever they live, when they are not installed packages) and btk's own engine and flows, so a
    cache key changes when any of them changes."""
    module = load_setup(setup)
    path = Path(setup) if setup.endswith(".py") else Path(module.__file__ or "")
    digest = hashlib.sha256(path.read_bytes())
    for name in _local_imports.get(setup_module_name(setup), []):
        file = getattr(sys.modules.get(name), "__file__", None)
        if _is_local(file) and Path(file).is_file():  # type: ignore[arg-type]
            digest.update(name.encode() + b"\0" + Path(file).read_bytes())  # type: ignore[arg-type]
    for source in _package_sources():
        digest.update(source.read_bytes())
    return digest.hexdigest()
