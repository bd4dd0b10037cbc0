"""The CLI's summary table stays aligned whatever the cells hold: N/A, long names, negative numbers."""
from flows.demo import print_summary


def test_columns_line_up_with_na_and_long_names(capsys):
    stats = {"total_signals": 12, "compounded_return": -3.5, "max_drawdown": 7.25, "win_rate": 41.7,
             "profit_factor": 0.91, "sharpe_ratio": -0.12, "buy_and_hold_return": 4.0}
    empty = {"total_signals": 0, **{k: None for k in stats if k != "total_signals"}}
    summary = {"pairs": [{"strategy": "a_rather_long_strategy_name", "symbol": "BTC/USDT:USDT", "stats": stats},
                         {"strategy": "x", "symbol": "ETH", "stats": empty}],
               "ranking": {}, "reports": {}, "heatmaps": {}}
    print_summary(summary, "sharpe_ratio")
    lines = capsys.readouterr().out.splitlines()
    header, rows = lines[0], lines[2:4]
    assert len({len(header), *map(len, rows)}) == 1
    ends = [header.index(word) + len(word) for word in ("trades", "compounded", "max dd", "win rate", "profit f.",
                                                         "sharpe", "buy&hold")]
    for row in rows:  # every column ends where its header ends (right-aligned numbers and N/A alike)
        assert all(row[e - 1] != " " and (e == len(row) or row[e] == " ") for e in ends)
    assert "N/A" in rows[1]
