"""`tuneui recommend`: table and stable JSON, what-if GPUs, clean errors."""

from __future__ import annotations

import json

import pytest

from tuneui.cli import main
from tuneui.recommend.shapes import REFERENCE_CONFIGS

LLAMA2_7B = REFERENCE_CONFIGS["7B"]


@pytest.fixture()
def model_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("TUNEUI_HOME", str(tmp_path / "home"))
    d = tmp_path / "llama-7b"
    d.mkdir()
    (d / "config.json").write_text(json.dumps(LLAMA2_7B))
    return d


def test_json_names_the_technique_and_every_alternative(model_dir, capsys):
    assert main(["recommend", "--model", str(model_dir), "--gpus", "1x24GiB", "--seq-len", "1024", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["schema"] == 1 and out["technique"] == "lora" and out["fits"] is True
    assert out["run_config"]["technique"] == "lora" and out["run_config"]["max_seq_length"] == 1024
    assert out["hardware"]["what_if"] == "1x24GiB" and out["model"]["total_params"] == 6_738_415_616
    alts = out["alternatives"]
    assert {a["technique"] for a in alts} == {"full", "freeze", "lora", "lora_8bit", "qlora"}
    for a in alts:
        assert isinstance(a["peak_bytes"], int) and isinstance(a["fits"], bool)
        assert sum(a["breakdown"].values()) == a["peak_bytes"]
    assert [a for a in alts if a["recommended"]][0]["technique"] == "lora"


def test_table_output_and_data_file(model_dir, tmp_path, capsys):
    data = tmp_path / "notes.jsonl"
    data.write_text("".join(json.dumps({"messages": [{"role": "assistant", "content": "word " * 900}]}) + "\n"
                            for _ in range(30)))
    assert main(["recommend", "--model", str(model_dir), "--gpus", "2x80GiB", "--batch", "32",
                 "--data", str(data)]) == 0
    out = capsys.readouterr().out
    assert "RECOMMENDED: lora" in out and "30 examples" in out and "All alternatives" in out and "<- recommended" in out
    assert "Should you fine-tune at all?" in out and "RAG" in out
    assert "effective batch 32" in out


def test_no_packing_changes_the_attention_mask_estimate(model_dir, capsys):
    base = ["recommend", "--model", str(model_dir), "--gpus", "1x80GiB", "--seq-len", "2048", "--json"]
    assert main([*base, "--packing"]) == 0
    packed = json.loads(capsys.readouterr().out)
    assert main(base) == 0  # padded, length-grouped batches are the default, as in RunConfig
    padded = json.loads(capsys.readouterr().out)
    assert packed["technique"] == padded["technique"] == "full"
    # at micro-batch 1 a packed row is one example (no mask); a padded batch carries a mask per layer
    pk, pd = ({a["label"]: a["peak_bytes"] for a in d["alternatives"]} for d in (packed, padded))
    assert all(pd[label] >= pk[label] for label in pk) and any(pd[label] > pk[label] for label in pk)


def test_nothing_fits_says_what_would(model_dir, capsys):
    assert main(["recommend", "--model", str(model_dir), "--gpus", "1x2GiB", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["fits"] is False and "QLoRA" in out["hardware_needed"]


@pytest.mark.parametrize("argv, message", [
    (["--gpus", "lots"], "--gpus 'lots'"),
    (["--seq-len", "4"], "--seq-len 4"),
    (["--batch", "0"], "--batch 0"),
])
def test_bad_input_exits_2_with_one_line(model_dir, capsys, argv, message):
    assert main(["recommend", "--model", str(model_dir), *argv]) == 2
    err = capsys.readouterr().err
    assert err.startswith("tuneui: error: ") and message in err and "Traceback" not in err


def test_unknown_model_exits_2(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hub"))
    import huggingface_hub.constants as c

    monkeypatch.setattr(c, "HF_HUB_CACHE", str(tmp_path / "hub"))
    assert main(["recommend", "--model", "nobody/nothing", "--gpus", "1x24GiB"]) == 2
    assert "not in the Hugging Face cache" in capsys.readouterr().err
