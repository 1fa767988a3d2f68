"""Export: adapter + model card, merged model; both load with plain transformers/peft and answer
exactly like tuneui's chat (greedy, fixed prompt). Hub and GGUF give clear messages."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))  # works whether or not tests/ is a package
from loop_fixtures import tiny_full_run, tiny_run  # noqa: E402,F401 - session fixtures

from tuneui.chat import ChatSession, GenerationSettings  # noqa: E402
from tuneui.contract.errors import TuneuiError  # noqa: E402
from tuneui.contract.loop import ExportOptions  # noqa: E402
from tuneui.export import export_run  # noqa: E402

PROMPT = [{"role": "user", "content": "What is the last word of: big cat"}]
N = 12


def plain_greedy(model, tokenizer) -> str:
    import torch

    ids = tokenizer.apply_chat_template(PROMPT, add_generation_prompt=True, return_tensors="pt",
                                        return_dict=True)
    with torch.no_grad():
        out = model.generate(**ids, max_new_tokens=N, do_sample=False)  # EOS from generation_config
    return tokenizer.decode(out[0, ids["input_ids"].shape[1]:], skip_special_tokens=True).strip()


@pytest.fixture(scope="module")
def tuneui_answer(tiny_run) -> str:
    return ChatSession.load(tiny_run).reply(PROMPT, settings=GenerationSettings(max_new_tokens=N)).text


def test_adapter_export_loads_with_plain_peft_and_matches_chat(tiny_run, tuneui_answer, tmp_path, capsys):
    from peft import PeftModel
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from tuneui.cli import main

    out = tmp_path / "adapter"
    assert main(["export", str(tiny_run), "-o", str(out), "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["schema"] == 1 and result["kind"] == "adapter"
    assert {"adapter_model.safetensors", "adapter_config.json", "README.md", "run.toml", "reproduce.sh",
            "tokenizer.json"} <= set(result["files"])
    assert not any(f.endswith((".bin", ".pt")) for f in result["files"])
    assert not any("GGUF" in n for n in result["notes"])  # GGUF was not asked for: nothing is missing
    card = (out / "README.md").read_text()
    for needle in ("base_model:", "library_name: peft", "| technique | lora |", "| lora_r | 8 |", "train split",
                   "tuneui train run.toml"):
        assert needle in card, needle
    assert "tuneui train run.toml -o RUN_DIR" in (out / "reproduce.sh").read_text()
    base_dir = json.loads((out / "adapter_config.json").read_text())["base_model_name_or_path"]
    tok = AutoTokenizer.from_pretrained(out)
    model = PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained(base_dir), out)
    assert plain_greedy(model.eval(), tok) == tuneui_answer


def test_merged_export_loads_with_plain_transformers_and_matches_chat(tiny_run, tuneui_answer, tmp_path):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    out = tmp_path / "merged"
    result = export_run(tiny_run, out, ExportOptions(merge=True))
    assert result.kind == "merged" and "model.safetensors" in result.files
    assert not (out / "adapter_config.json").exists()
    tok = AutoTokenizer.from_pretrained(out)
    assert tok.chat_template and tok.eos_token == "<|im_end|>"
    gen = json.loads((out / "generation_config.json").read_text())
    assert gen["eos_token_id"] == tok.eos_token_id
    model = AutoModelForCausalLM.from_pretrained(out)
    assert plain_greedy(model.eval(), tok) == tuneui_answer
    # the export chats on its own too; its run.toml still names the original base to compare with
    merged = ChatSession.load(out)
    assert merged.kind == "full" and merged.has_base and merged.run_dir is None


def stored_dtypes(folder: Path) -> set[str]:
    """The dtypes of the tensors as written in model.safetensors (not as a loader would cast them)."""
    from safetensors import safe_open

    with safe_open(str(folder / "model.safetensors"), "pt") as f:
        return {f.get_slice(k).get_dtype() for k in f.keys()}


def test_a_merged_export_keeps_the_bases_dtype_unless_told_otherwise(tiny_run, tmp_path, capsys):
    from tuneui.cli import main

    # The tiny base is stored in float32, so "auto" keeps float32 ...
    auto = export_run(tiny_run, tmp_path / "auto", ExportOptions(merge=True))
    assert stored_dtypes(tmp_path / "auto") == {"F32"} and any("float32" in n for n in auto.notes)
    # ... and asking for a dtype gets it (the real demo's bf16 base: tests/engine/test_real_demo.py).
    bf16 = export_run(tiny_run, tmp_path / "bf16", ExportOptions(merge=True, dtype="bf16"))
    assert stored_dtypes(tmp_path / "bf16") == {"BF16"} and any("bfloat16" in n for n in bf16.notes)
    assert json.loads((tmp_path / "bf16" / "config.json").read_text())["dtype"] == "bfloat16"
    assert main(["export", str(tiny_run), "-o", str(tmp_path / "fp16"), "--merge", "--dtype", "fp16"]) == 0
    assert stored_dtypes(tmp_path / "fp16") == {"F16"}
    with pytest.raises(TuneuiError, match="dtype: must be one of auto, bf16, fp16, fp32"):
        export_run(tiny_run, tmp_path / "bad", ExportOptions(merge=True, dtype="int4"))
    assert not (tmp_path / "bad").exists()


def test_full_runs_export_the_model_and_say_merge_is_moot(tiny_full_run, tmp_path):
    result = export_run(tiny_full_run, tmp_path / "full", ExportOptions(merge=True))
    assert result.kind == "full" and "model.safetensors" in result.files
    assert any("nothing to merge" in n for n in result.notes)
    assert "| freeze_trainable_layers | 1 |" in (tmp_path / "full" / "README.md").read_text()


def test_refuses_a_non_empty_destination_and_leaves_it_alone(tiny_run, tmp_path):
    out = tmp_path / "taken"
    out.mkdir()
    (out / "mine.txt").write_text("keep")
    with pytest.raises(TuneuiError, match="not empty"):
        export_run(tiny_run, out)
    assert (out / "mine.txt").read_text() == "keep"


def test_gguf_and_modelfile_without_llama_cpp(tiny_run, tmp_path, monkeypatch, capsys):
    """No llama.cpp anywhere: tuneui writes the GGUF itself, transformers' GGUF loader reads it back with the
    merged model's logits, and the Modelfile points at it with the chat template's stop token."""
    import torch
    from transformers import AutoModelForCausalLM

    from tuneui.cli import main

    monkeypatch.delenv("LLAMA_CPP_DIR", raising=False)
    monkeypatch.setenv("PATH", str(tmp_path / "empty-path"))
    out = tmp_path / "g"
    assert main(["export", str(tiny_run), "-o", str(out), "--merge", "--gguf", "--quant", "f16", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["gguf"] == str(out / "model-f16.gguf") and result["quant"] == "f16"
    assert {"model-f16.gguf", "Modelfile", "model.safetensors"} <= set(result["files"])
    modelfile = (out / "Modelfile").read_text()
    assert "FROM ./model-f16.gguf" in modelfile and 'PARAMETER stop "<|im_end|>"' in modelfile
    ids = torch.tensor([[5, 17, 42, 99, 3, 64]])
    with torch.no_grad():
        want = AutoModelForCausalLM.from_pretrained(out).eval()(ids).logits
        got = AutoModelForCausalLM.from_pretrained(out, gguf_file="model-f16.gguf").eval()(ids).logits
    assert ((got - want).norm() / want.norm()).item() < 2e-3  # f16's tolerance in test_export_gguf.py
    assert main(["export", str(tiny_run), "-o", str(tmp_path / "q"), "--quant", "q4_k_m"]) == 2
    assert "add --gguf" in capsys.readouterr().err


def test_gguf_falls_back_to_llama_cpps_converter_for_models_tuneui_cannot_write(tiny_run, tmp_path, monkeypatch):
    import tuneui.export_gguf as writer
    from tuneui.export_gguf import GgufUnsupported, tensor_types

    def unsupported(*args, **kwargs):
        raise GgufUnsupported("tuneui's GGUF writer handles llama/mistral models, not gemma")

    monkeypatch.setattr(writer, "write_gguf", unsupported)
    monkeypatch.delenv("LLAMA_CPP_DIR", raising=False)
    monkeypatch.setenv("PATH", str(tmp_path / "empty-path"))
    with pytest.raises(TuneuiError, match="not gemma; for this model GGUF needs llama.cpp's converter"):
        export_run(tiny_run, tmp_path / "g1", ExportOptions(gguf=True))
    assert not (tmp_path / "g1").exists()
    fake = tmp_path / "llama.cpp"
    fake.mkdir()
    # A stand-in with llama.cpp's command line that writes a real f16 GGUF (with the unpatched writer, in its
    # own process): it must be handed the merged model directory and asked for f16.
    (fake / "convert_hf_to_gguf.py").write_text(
        "import sys, pathlib, tempfile, shutil\n"
        "from tuneui.export_gguf import write_gguf\n"
        "src = pathlib.Path(sys.argv[1]); out = pathlib.Path(sys.argv[sys.argv.index('--outfile') + 1])\n"
        "assert sys.argv[sys.argv.index('--outtype') + 1] == 'f16'\n"
        "assert (src / 'model.safetensors').exists() and (src / 'config.json').exists()\n"
        "with tempfile.TemporaryDirectory() as d:\n"
        "    shutil.move(write_gguf(src, d, 'f16'), out)\n")
    monkeypatch.setenv("LLAMA_CPP_DIR", str(fake))
    result = export_run(tiny_run, tmp_path / "g2", ExportOptions(gguf=True, quant="q8_0"))
    assert result.gguf == tmp_path / "g2" / "model-q8_0.gguf"
    assert "Q8_0" in set(tensor_types(result.gguf).values())  # re-encoded from the converter's f16
    assert any("llama.cpp's converter wrote it" in n for n in result.notes)
    assert not list(tmp_path.glob(".merged.*")) and not list((tmp_path / "g2").glob(".f16.*"))


def test_push_without_network_or_login_says_so_and_keeps_the_export(tiny_run, tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(TuneuiError, match="offline") as info:
        export_run(tiny_run, tmp_path / "p", ExportOptions(push_to_hub="me/tiny"))
    assert (tmp_path / "p" / "adapter_model.safetensors").exists()
    assert str(tmp_path / "p") in str(info.value)
    from tuneui.export import push

    monkeypatch.setenv("HF_HUB_OFFLINE", "0")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))  # no stored login
    monkeypatch.delenv("HF_TOKEN", raising=False)
    with pytest.raises(TuneuiError, match="hf auth login"):
        push(tmp_path / "p", "me/tiny")
