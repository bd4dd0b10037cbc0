"""Every accepted shape of a source answer converts to the same columns (SPEC §2.4); the vectorised path
equals the item-by-item reading on random answers, including the error text that names the bad item."""
import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from btk_core.candles import FIELDS, Candle, ContractError, _rows_from_items, to_columns

ROWS = [[1717200000000 + k * 60000, 100.0 + k, 101.0 + k, 99.0 + k, 100.5 + k, 10.0 * k] for k in range(5)]
EXPECTED = [np.array(col, dtype=np.float64) for col in zip(*ROWS)]


def shapes():
    cols = {f: [r[k] for r in ROWS] for k, f in enumerate(FIELDS)}
    frame = pd.DataFrame(cols)
    structured = np.array([tuple(r) for r in ROWS], dtype=[(f, "i8" if f == "timestamp" else "f8") for f in FIELDS])
    return {
        "lists": ROWS, "tuples": [tuple(r) for r in ROWS], "mappings": [dict(zip(FIELDS, r)) for r in ROWS],
        "candles": [Candle(*r) for r in ROWS], "numpy scalars": [[np.int64(r[0])] + [np.float64(x) for x in r[1:]]
                                                                 for r in ROWS],
        "DataFrame": frame, "pyarrow Table": pa.table(cols), "structured array": structured,
        "2-D array": np.array(ROWS, dtype=np.float64),
    }


@pytest.mark.parametrize("name", list(shapes()))
def test_every_shape_gives_the_same_columns(name):
    cols = to_columns(shapes()[name])
    for got, want in zip(cols, EXPECTED):
        assert np.array_equal(np.asarray(got, dtype=np.float64), want), name


def slow(items):
    """The literal reading: item by item."""
    rows = _rows_from_items(items)
    return [np.array(col, dtype=np.float64) for col in zip(*rows)]


values = st.one_of(st.integers(-10**12, 10**13), st.floats(allow_nan=True, allow_infinity=True), st.booleans(),
                   st.none(), st.text(max_size=3), st.just(np.float64(1.5)), st.just(np.int64(7)))
row = st.one_of(st.lists(values, min_size=5, max_size=7), st.lists(values, min_size=6, max_size=6).map(tuple),
                st.lists(values, min_size=6, max_size=6).map(lambda v: dict(zip(FIELDS, v))),
                st.lists(st.floats(allow_nan=False), min_size=6, max_size=6).map(lambda v: Candle(*v)),
                st.lists(values, min_size=5, max_size=5).map(lambda v: dict(zip(FIELDS[:5], v))))
clean_row = st.lists(st.one_of(st.integers(0, 10**13), st.floats(allow_nan=False, allow_infinity=False)),
                     min_size=6, max_size=6)


@settings(max_examples=300, deadline=None)
@given(st.one_of(st.lists(row, min_size=1, max_size=6), st.lists(clean_row, min_size=1, max_size=30)))
def test_the_vectorised_path_equals_the_item_by_item_reading(items):
    try:
        want = slow(items)
    except ContractError as exc:
        with pytest.raises(ContractError) as got:
            to_columns(items)
        assert str(got.value) == str(exc)
        return
    got_cols = to_columns(items)
    for got, expected in zip(got_cols, want):
        assert np.array_equal(np.asarray(got, dtype=np.float64), expected, equal_nan=True)


def test_a_bool_or_text_is_named_like_before():
    with pytest.raises(ContractError, match="candle 1 has a non-numeric volume: True"):
        to_columns([ROWS[0], ROWS[1][:5] + [True]])
    with pytest.raises(ContractError, match="candle 0 has a non-numeric close: '1.5'"):
        to_columns([ROWS[0][:4] + ["1.5", 1.0]])
    with pytest.raises(ContractError, match="Table lacks column 'volume'"):
        to_columns(pa.table({f: [1.0] for f in FIELDS[:5]}))
