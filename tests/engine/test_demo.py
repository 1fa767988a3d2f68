"""The offline demo is deterministic and honest: the model and data are what the code builds."""

from __future__ import annotations

import hashlib
import json

from tuneui.demo import sample_dataset_path
from tuneui.demo_data import generate


def test_bundled_sample_dataset_is_exactly_what_the_generator_writes():
    rows = [json.loads(line) for line in sample_dataset_path().read_text().splitlines()]
    assert rows == generate()
    assert len(rows) >= 3000
    lengths = {len(r["messages"][-2]["content"].split()) for r in rows}
    assert max(lengths) - min(lengths) >= 8  # varied lengths
    assert all(r["messages"][-1]["role"] == "assistant" for r in rows)


def test_demo_model_builds_deterministically(tmp_path, run_cli, demo_model_dir):
    out = run_cli("demo-model", "--tiny", tmp_path / "again")
    assert out.returncode == 0, out.stderr
    for name in ("model.safetensors", "tokenizer.json", "config.json"):
        a = hashlib.sha256((demo_model_dir / name).read_bytes()).hexdigest()
        b = hashlib.sha256((tmp_path / "again" / name).read_bytes()).hexdigest()
        assert a == b, name
    assert "<|im_start|>" in (tmp_path / "again" / "chat_template.jinja").read_text()


def test_demo_model_refuses_a_foreign_directory(tmp_path, run_cli):
    (tmp_path / "mine.txt").write_text("user file")
    out = run_cli("demo-model", "--tiny", tmp_path)
    assert out.returncode == 2 and "not a demo model" in out.stderr
    assert (tmp_path / "mine.txt").read_text() == "user file"
