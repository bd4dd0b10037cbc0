"""btk_core must stay light: no Prefect, ccxt, ollama or pandas at import, and a fast import."""
import subprocess
import sys


def run(code: str) -> str:
    return subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True).stdout


def test_import_pulls_no_heavy_dependency():
    out = run("import sys, btk_core; print(sorted(m for m in ('prefect', 'ccxt', 'ollama', 'pandas', 'pyarrow') "
              "if m in sys.modules))")
    assert out.strip() == "[]"


def test_import_time_under_half_a_second():
    best = min(float(run("import time; t = time.perf_counter(); import btk_core; "
                         "print(time.perf_counter() - t)")) for _ in range(3))
    assert best < 0.5, f"import btk_core took {best:.3f} s"


def test_public_surface_has_the_spec_names():
    import btk_core
    for name in ("add_exchange", "add_strategy", "add_frame", "add_risk", "add_sizing", "add_walker",
                 "add_optimizer", "list_exchanges", "set_config", "get_config", "get_default_config", "set_clock",
                 "get_candles", "get_average_price", "format_price", "format_quantity", "get_date", "get_mode",
                 "Candle", "Candles", "BtkError", "UserCodeError", "listen_signal", "listen_ping_once"):
        assert name in btk_core.__all__, name
