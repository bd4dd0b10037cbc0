"""The one JSON form of stored values, shared by every adapter (SPEC §9.2): sorted keys, compact, no NaN."""
from __future__ import annotations

import json
from typing import Any


def encode(value: Any) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), allow_nan=False).encode("utf-8")
