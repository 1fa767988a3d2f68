"""Random bytes and random JSON never crash the loader with anything but a clean DataError."""

from __future__ import annotations

import json

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tuneui.contract.errors import TuneuiError
from tuneui.data import load_dataset

FUZZ = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(
        st.sampled_from(["messages", "role", "content", "from", "value", "conversations", "instruction", "input",
                         "output", "prompt", "completion", "question", "answer", "text", "x"]), inner, max_size=4),
    max_leaves=12,
)


def _load_cleanly(path) -> None:
    try:
        res = load_dataset(path)
    except TuneuiError as exc:
        assert str(exc) and "Traceback" not in str(exc)
        return
    res.to_dict()  # a result must always be renderable
    for ex in res.preview:
        for _, conv in ex.parts():
            assert all(isinstance(m["content"], str) and m["role"] in ("system", "user", "assistant", "tool")
                       for m in conv)


@FUZZ
@given(data=st.binary(max_size=400), suffix=st.sampled_from([".jsonl", ".json", ".csv", ".tsv", ".txt", ".parquet",
                                                              ".dat", ".jsonl.gz"]))
def test_random_bytes(tmp_path, data, suffix):
    path = tmp_path / f"fuzz{suffix}"
    path.write_bytes(data)
    _load_cleanly(path)


@FUZZ
@given(rows=st.lists(json_values, min_size=1, max_size=5), as_lines=st.booleans())
def test_random_json(tmp_path, rows, as_lines):
    if as_lines:
        path = tmp_path / "fuzz.jsonl"
        path.write_text("\n".join(json.dumps(r) for r in rows), encoding="utf-8")
    else:
        path = tmp_path / "fuzz.json"
        path.write_text(json.dumps(rows if len(rows) > 1 else rows[0]), encoding="utf-8")
    _load_cleanly(path)
