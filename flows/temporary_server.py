"""A temporary Prefect API for a CLI process that has no ``PREFECT_API_URL``, and dies with it.

Prefect's own ephemeral server is a child process that outlives a parent killed with SIGKILL (it is left
running under PID 1, holding its port and the database). ``btk live`` is the command users leave running
and kill, so it starts the same server itself with the kernel's parent-death signal set (Linux
``PR_SET_PDEATHSIG``): however the CLI ends, the server gets SIGTERM. It runs in a session of its own, so
a Ctrl-C in the terminal reaches the CLI only, which still needs the server to record how the run ended.
It uses the same database under
``PREFECT_HOME`` as the ephemeral one, so runs, logs and artifacts are the same.
"""
from __future__ import annotations

import atexit
import ctypes
import importlib.util
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager

PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:  # runs in the child between fork and exec
    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    except OSError:
        pass


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def temporary_api(timeout: float = 120.0) -> Iterator[str | None]:
    """Run the rest of the process against a temporary API when ``PREFECT_API_URL`` is unset (yields its URL,
    else ``None``); it is stopped when the process exits, after Prefect has sent its last logs and events.
    Must be entered before Prefect's settings are read, i.e. before ``import prefect``."""
    if os.environ.get("PREFECT_API_URL") or not sys.platform.startswith("linux"):
        yield None
        return
    spec = importlib.util.find_spec("prefect")  # located, not imported: its settings must see the URL
    assert spec is not None and spec.origin is not None
    port = _free_port()
    url = f"http://127.0.0.1:{port}/api"
    env = {**os.environ, "PREFECT_UI_ENABLED": "0", "PREFECT__SERVER_EPHEMERAL": "1", "PREFECT__SERVER_FINAL": "1"}
    server = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "--app-dir", os.path.dirname(os.path.dirname(spec.origin)),
         "--factory", "prefect.server.api.server:create_app", "--host", "127.0.0.1", "--port", str(port),
         "--log-level", "error", "--lifespan", "on"],
        env=env, preexec_fn=_die_with_parent, stdin=subprocess.DEVNULL,
        start_new_session=True)  # a terminal's Ctrl-C reaches the CLI only: the server outlives the halt
    atexit.register(_stop, server)  # after Prefect's log and event workers drained (they run at thread shutdown)
    deadline = time.monotonic() + timeout
    while True:
        if server.poll() is not None:
            raise RuntimeError(f"the temporary Prefect API exited with code {server.returncode}")
        try:
            with urllib.request.urlopen(f"{url}/health", timeout=2) as answer:
                if answer.status == 200:
                    break
        except OSError:
            pass
        if time.monotonic() > deadline:
            raise RuntimeError(f"the temporary Prefect API on {url} did not answer within {timeout:.0f} s")
        time.sleep(0.2)
    os.environ["PREFECT_API_URL"] = url
    yield url


def _stop(server: subprocess.Popen[bytes]) -> None:
    server.terminate()
    try:
        server.wait(timeout=10)
    except subprocess.TimeoutExpired:
        server.kill()
        server.wait()
