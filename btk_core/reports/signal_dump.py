"""The LLM conversation dump of a generated signal (SPEC §14 #9, §16.5)."""
from __future__ import annotations

import json
import logging
import os
import secrets
import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ..errors import BtkError
from ..fmt import safe_name

log = logging.getLogger("btk")
USER_MESSAGE_WARN_BYTES = 20 * 1024


def _as_json(value: Any) -> str:
    return json.dumps(value, indent=2, ensure_ascii=False, default=str)


def dump_signal(signal_id: str, messages: Sequence[dict[str, Any]], signal: Any,
                path: str = "./dump/strategy") -> str | None:
    """Write ``<path>/<safe(signal_id)>/`` with the system prompt, each user message and the answer.

    Nothing is written when the folder exists (a signal is dumped once). The folder appears whole:
    it is assembled under a temporary name and renamed. Returns the folder, or None if it existed.
    """
    target = Path(path) / safe_name(signal_id)
    if target.exists():
        return None
    systems = [str(m.get("content", "")) for m in messages if m.get("role") == "system"]
    users = [str(m.get("content", "")) for m in messages if m.get("role") == "user"]
    files = {"00_system_prompt.md": "\n\n".join([f"```json\n{_as_json(signal)}\n```", *systems]) + "\n"}
    for k, text in enumerate(users, 1):
        if len(text.encode("utf-8")) > USER_MESSAGE_WARN_BYTES:
            log.warning("user message %d of signal %s is %d bytes (over 20 KB)", k, signal_id, len(text.encode()))
        files[f"{k:02d}_user_message.md"] = text + "\n"
    files[f"{len(users) + 1:02d}_llm_output.md"] = f"```json\n{_as_json(signal)}\n```\n"
    temp = Path(path) / f".tmp-{secrets.token_hex(6)}-{target.name}"
    try:
        temp.mkdir(parents=True)
        for name, text in files.items():
            (temp / name).write_text(text, encoding="utf-8")
        os.rename(temp, target)
    except FileExistsError:
        shutil.rmtree(temp, ignore_errors=True)
        return None
    except OSError as exc:
        shutil.rmtree(temp, ignore_errors=True)
        if target.exists():
            return None
        raise BtkError(f"cannot write signal dump {target}: {exc}") from exc
    return str(target)
