"""The Modelfile's Go TEMPLATE, run by a Go-template interpreter, reproduces the Jinja chat template.

Templates: the demo's ChatML and real ones copied byte-for-byte from llama.cpp's models/templates
(tests/data/ollama_templates/SOURCES.md). The bos/eos strings are those models' own special tokens.
When the Go toolchain is installed, the same Modelfiles are also run through Go's real text/template.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))  # works whether or not tests/ is a package
from go_template import Template, parse_modelfile

from tuneui.contract.errors import TuneuiError
from tuneui.demo import CHAT_TEMPLATE
from tuneui.ollama import derive_pieces, modelfile_text, render, write_modelfile

DATA = Path(__file__).resolve().parents[1] / "data" / "ollama_templates"
# file -> (bos, eos, where the template puts a system prompt)
TEMPLATES = {
    "demo-chatml": (None, "<|im_end|>", "prefix"),
    "meta-llama-Llama-3.2-3B-Instruct.jinja": ("<|begin_of_text|>", "<|eot_id|>", "prefix"),
    "mistralai-Mistral-Nemo-Instruct-2407.jinja": ("<s>", "</s>", "last_user"),
    "google-gemma-2-2b-it.jinja": ("<bos>", "<eos>", "none"),
    "Qwen-Qwen3-0.6B.jinja": (None, "<|im_end|>", "prefix"),
    "microsoft-Phi-3.5-mini-instruct.jinja": ("<s>", "<|endoftext|>", "prefix"),
}
EXPECTED_STOPS = {"demo-chatml": "<|im_end|>", "meta-llama-Llama-3.2-3B-Instruct.jinja": "<|eot_id|>",
                  "mistralai-Mistral-Nemo-Instruct-2407.jinja": "</s>", "google-gemma-2-2b-it.jinja": "<end_of_turn>",
                  "Qwen-Qwen3-0.6B.jinja": "<|im_end|>", "microsoft-Phi-3.5-mini-instruct.jinja": "<|end|>"}
SYSTEM = {"role": "system", "content": "You answer in one short sentence.\nBe kind."}
CONVERSATIONS = [
    [SYSTEM, {"role": "user", "content": "What is the capital of France?"},
     {"role": "assistant", "content": "Paris is the capital of France."},
     {"role": "user", "content": 'And of "Italy"?\nPlease be brief.'}],
    [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello! How can I help?"},
     {"role": "user", "content": "Tell me a joke."}],
    [SYSTEM, {"role": "user", "content": "Only one question here."}],
    [{"role": "user", "content": "Start my reply for me."}, {"role": "assistant", "content": "Sure, here is"}],
]
DATE = {"date_string": "26 Jul 2024"}  # Llama 3 reads today's date otherwise


def _template(name: str) -> str:
    return CHAT_TEMPLATE if name == "demo-chatml" else (DATA / name).read_text(encoding="utf-8")


def _jinja(template, messages, bos, eos) -> str:
    final_assistant = messages[-1]["role"] == "assistant"
    return render(template, messages, add_generation_prompt=not final_assistant,
                  continue_final_message=final_assistant, bos_token=bos or "", eos_token=eos or "", **DATE)


def _ollama_values(messages) -> dict:
    """What Ollama hands a TEMPLATE on /api/chat: system messages joined into .System, all messages in order."""
    system = "\n\n".join(m["content"] for m in messages if m["role"] == "system")
    return {"System": system, "Messages": [{"Role": m["role"], "Content": m["content"]} for m in messages]}


def _modelfile(name):
    bos, eos, _ = TEMPLATES[name]
    return modelfile_text("model-q4_k_m.gguf", _template(name), bos_token=bos, eos_token=eos, **DATE)


@pytest.mark.parametrize("name", list(TEMPLATES))
def test_go_template_reproduces_the_jinja_rendering(name):
    bos, eos, mode = TEMPLATES[name]
    parsed = parse_modelfile(_modelfile(name))
    assert parsed["FROM"] == "./model-q4_k_m.gguf"
    assert ("stop", EXPECTED_STOPS[name]) in parsed["PARAMETER"]
    assert derive_pieces(_template(name), bos_token=bos or "", eos_token=eos or "", **DATE).system_mode == mode
    go = Template(parsed["TEMPLATE"])
    checked = 0
    for conv in CONVERSATIONS:
        if mode == "none" and conv[0]["role"] == "system":
            with pytest.raises(Exception, match="System role not supported"):
                _jinja(_template(name), conv, bos, eos)
            continue
        assert go.execute(_ollama_values(conv)) == _jinja(_template(name), conv, bos, eos), conv
        checked += 1
    assert checked >= 2


def test_demo_model_modelfile_from_its_tokenizer(demo_tokenizer, tmp_path):
    path = write_modelfile(tmp_path, "model-q8_0.gguf", demo_tokenizer)
    parsed = parse_modelfile(path.read_text(encoding="utf-8"))
    assert parsed["FROM"] == "./model-q8_0.gguf"
    assert parsed["PARAMETER"] == [("stop", "<|im_end|>")]
    conv = CONVERSATIONS[0]
    assert Template(parsed["TEMPLATE"]).execute(_ollama_values(conv)) == demo_tokenizer.apply_chat_template(
        conv, tokenize=False, add_generation_prompt=True)


def test_templates_that_cannot_be_followed_are_refused():
    position_dependent = ("{% for m in messages %}{{ loop.index ~ ':' ~ m['content'] ~ '|' }}{% endfor %}")
    with pytest.raises(TuneuiError, match="chat template"):
        modelfile_text("m.gguf", position_dependent)
    with pytest.raises(TuneuiError, match="cannot render"):
        modelfile_text("m.gguf", "{{ raise_exception('no') }}")


GO_MAIN = """package main
import ("encoding/json"; "os"; "text/template")
func main() {
  var in struct { Template string; Values map[string]any }
  json.NewDecoder(os.Stdin).Decode(&in)
  t := template.Must(template.New("m").Parse(in.Template))
  if err := t.Execute(os.Stdout, in.Values); err != nil { panic(err) }
}
"""


@pytest.mark.skipif(shutil.which("go") is None, reason="the Go toolchain is not installed")
def test_real_go_text_template_agrees(tmp_path):
    (tmp_path / "main.go").write_text(GO_MAIN)
    binary = tmp_path / "render"
    subprocess.run(["go", "build", "-o", str(binary), str(tmp_path / "main.go")], check=True, cwd=tmp_path,
                   env={"GOCACHE": str(tmp_path / "cache"), "HOME": str(tmp_path), "PATH": "/usr/bin:/bin",
                        "GO111MODULE": "off"})
    for name, (bos, eos, mode) in TEMPLATES.items():
        body = parse_modelfile(_modelfile(name))["TEMPLATE"]
        for conv in CONVERSATIONS:
            if mode == "none" and conv[0]["role"] == "system":
                continue
            job = json.dumps({"Template": body, "Values": _ollama_values(conv)})
            out = subprocess.run([str(binary)], input=job, capture_output=True, text=True, check=True).stdout
            assert out == _jinja(_template(name), conv, bos, eos), (name, conv)
