"""Access to the shared peer benchmark kit (../shared/bench/peers, or $BTK_PEERS_DIR)."""
from __future__ import annotations

import importlib.util
import os
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parent.parent


def peers_dir() -> Path:
    path = Path(os.environ.get("BTK_PEERS_DIR", ROOT.parent / "shared" / "bench" / "peers"))
    if not (path / "make_data.py").is_file():
        raise SystemExit(f"peer benchmark kit not found at {path}; set BTK_PEERS_DIR")
    return path


def load(name: str) -> ModuleType:
    """Import ``<peers>/<name>.py`` (the kit's own modules import each other by name)."""
    import sys
    directory = str(peers_dir())
    if directory not in sys.path:
        sys.path.insert(0, directory)
    spec = importlib.util.spec_from_file_location(f"peers_{name}", peers_dir() / f"{name}.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


SIZES = {"1m": 43_200, "1y": 525_600, "4y": 2_102_400}
