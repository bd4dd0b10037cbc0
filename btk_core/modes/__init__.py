"""Run modes: backtest (and portfolio), live, walker."""
