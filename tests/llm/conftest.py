"""The real-model lane (``make test-llm``; part of ``make test``): one model server for the session."""
import pytest

from tests.llm.real_model import LaneUnavailable, RealOllama


@pytest.fixture(scope="session")
def real_ollama():
    try:
        with RealOllama.start() as server:
            yield server
    except LaneUnavailable as exc:
        pytest.skip(str(exc))


@pytest.fixture
def ollama_env(real_ollama, monkeypatch):
    """``OLLAMA_HOST`` pointing at the real model (child processes inherit it)."""
    monkeypatch.setenv("OLLAMA_HOST", real_ollama.host)
    monkeypatch.delenv("OLLAMA_API_KEY", raising=False)
    return real_ollama
