"""Redis adapter (redis-py): one key per value, ``SET`` is atomic, keys carry a prefix.

Keys are ``<prefix><store>/<entity_name>/<entity_id>`` where ``store`` is the last part of the
``base_dir`` the engine passes (``.../signal``), so several bots can share a server by prefix.
"""
from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import PurePosixPath
from typing import Any

from .. import clock
from ..errors import PersistCorruptError
from ..events import emit_error
from .codec import encode


class RedisPersist:
    """A store of JSON values in Redis."""

    def __init__(self, client: Any, entity_name: str, base_dir: str, prefix: str) -> None:
        self.client = client
        self.namespace = f"{prefix}{PurePosixPath(base_dir).name}/{entity_name}/"

    def wait_for_init(self, initial: bool) -> None:
        self.client.ping()

    def key(self, entity_id: str) -> str:
        return self.namespace + entity_id

    def read_value(self, entity_id: str) -> Any:
        """The stored value, or ``None`` when there is none (or it was not JSON and was moved aside)."""
        raw = self.client.get(self.key(entity_id))
        if raw is None:
            return None
        try:
            return json.loads(raw)
        except ValueError as exc:
            self.move_aside(entity_id, "corrupt", f"not valid JSON ({exc})")
            return None

    def move_aside(self, entity_id: str, kind: str, why: str) -> str:
        """``RENAME`` the key to ``<key>.<kind>-<now ms>`` (atomic) and report it (SPEC §9.5)."""
        key, aside = self.key(entity_id), self.key(f"{entity_id}.{kind}-{clock.now()}")
        self.client.rename(key, aside)
        emit_error(PersistCorruptError(f"state key {key} is {kind} ({why}); moved to {aside}",
                                       store=self.namespace, path=key, cause=why))
        return aside

    def has_value(self, entity_id: str) -> bool:
        return bool(self.client.exists(self.key(entity_id)))

    def write_value(self, entity_id: str, value: Any) -> None:
        self.client.set(self.key(entity_id), encode(value))

    def remove_value(self, entity_id: str) -> None:
        self.client.delete(self.key(entity_id))

    def remove_all(self) -> None:
        keys = list(self.client.scan_iter(match=self.namespace + "*"))
        if keys:
            self.client.delete(*keys)

    def keys(self) -> Iterator[str]:
        found = self.client.scan_iter(match=self.namespace + "*")
        names = sorted(k.decode() if isinstance(k, bytes) else k for k in found)
        return (n[len(self.namespace):] for n in names)

    def values(self) -> Iterator[Any]:
        return (self.read_value(key) for key in list(self.keys()))


def redis_factory(url: str = "redis://127.0.0.1:6379/0", *, prefix: str = "btk:",
                  retries: int = 3) -> Callable[[str, str], RedisPersist]:
    """A factory for ``use_persist_adapter(store, redis_factory(url))``; one client per factory.

    The client retries a dropped connection (``retries`` times with backoff), so a server that goes
    away briefly costs a slower write, and a longer outage a ``PersistError`` per failed write."""
    import redis
    from redis.backoff import ExponentialBackoff
    from redis.retry import Retry

    client = redis.Redis.from_url(url, retry=Retry(ExponentialBackoff(cap=1.0, base=0.05), retries),
                                  retry_on_error=[redis.ConnectionError, redis.TimeoutError],
                                  socket_connect_timeout=2, socket_timeout=5)
    return lambda entity_name, base_dir: RedisPersist(client, entity_name, base_dir, prefix)
