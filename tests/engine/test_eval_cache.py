"""The base figures' cache: hit only when nothing the figures depend on has changed."""

from __future__ import annotations

import json
import os
import shutil

import pytest

from tuneui.eval_cache import base_eval_key, cache_dir, load_base_eval, store_base_eval

VAL = [[{"role": "user", "content": "What is 5 March 2021 in ISO format?"},
        {"role": "assistant", "content": "2021-03-05"}]]
SETTINGS = {"limit": 64, "max_new_tokens": 24, "probe_window": 256}
LOAD = {"dtype": "float32", "quantization": None, "base_from": "adapter-off"}


@pytest.fixture
def model_dir(tmp_path, demo_model_dir):
    out = tmp_path / "model"
    shutil.copytree(demo_model_dir, out)
    return out


def _key(model_dir, **change):
    args = {"model": model_dir, "load": LOAD, "val_convs": VAL, "max_seq_length": 256,
            "settings": SETTINGS, "probe_text": "general text"} | change
    return base_eval_key(**args)


def test_the_key_is_stable_and_changes_with_every_input(model_dir):
    key = _key(model_dir)
    assert key == _key(model_dir)
    other_val = [[VAL[0][0], {"role": "assistant", "content": "2021-03-06"}]]
    changed = [
        _key(model_dir, val_convs=other_val),
        _key(model_dir, max_seq_length=128),
        _key(model_dir, settings=SETTINGS | {"max_new_tokens": 48}),
        _key(model_dir, load=LOAD | {"quantization": "nf4"}),
        _key(model_dir, probe_text="other text"),
    ]
    assert key not in changed and len(set(changed)) == len(changed)


def test_the_key_follows_the_model_files_content_and_weights(model_dir):
    key = _key(model_dir)
    tpl = model_dir / "chat_template.jinja"
    tpl.write_text(tpl.read_text() + " ")  # a different chat template renders different prompts
    assert _key(model_dir) != key
    key = _key(model_dir)
    weights = model_dir / "model.safetensors"
    st = weights.stat()
    os.utime(weights, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000_000))  # rewritten weights
    assert _key(model_dir) != key


def test_store_then_load_round_trips_and_bad_files_are_misses(model_dir):
    key = _key(model_dir)
    assert load_base_eval(key) is None
    figures = {"eval_loss": 1.5, "task": {"exact_match": 0.0, "stop_rate": 0.25}}
    path = store_base_eval(key, figures)
    assert path.parent == cache_dir()
    assert load_base_eval(key) == figures
    path.write_text("{not json")
    assert load_base_eval(key) is None
    path.write_text(json.dumps({"key": "another", "figures": figures}))
    assert load_base_eval(key) is None


def test_a_hub_id_not_in_the_local_cache_is_keyed_by_its_name_and_revision():
    a = base_eval_key(model="org/absent-model", load=LOAD, val_convs=VAL, max_seq_length=256, settings=SETTINGS,
                      probe_text=None)
    b = base_eval_key(model="org/absent-model", load=LOAD, val_convs=VAL, max_seq_length=256, settings=SETTINGS,
                      probe_text=None, revision="abc123")
    assert a != b
