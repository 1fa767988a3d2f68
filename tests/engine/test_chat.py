"""Chat: streaming, Stop, the base answer with the adapter switched off, saved examples, the CLI."""

from __future__ import annotations

import json
import sys
import threading
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))  # works whether or not tests/ is a package
from loop_fixtures import tiny_full_run, tiny_run  # noqa: E402,F401 - session fixtures

from tuneui.chat import ChatSession, GenerationSettings, Reply, save_example, validation_prompts
from tuneui.contract.errors import TuneuiError

PROMPT = [{"role": "user", "content": "Translate to Zorbish: bread blue"}]
GREEDY = GenerationSettings(max_new_tokens=10)


@pytest.fixture(scope="module")
def session(tiny_run):
    return ChatSession.load(tiny_run)


def plain_greedy(model, tokenizer, messages, n=10) -> str:
    import torch

    text = tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
    enc = tokenizer(text, return_tensors="pt", add_special_tokens=False)
    with torch.no_grad():
        out = model.generate(**enc, max_new_tokens=n, do_sample=False, eos_token_id=tokenizer.eos_token_id,
                             pad_token_id=tokenizer.pad_token_id)
    return tokenizer.decode(out[0, enc["input_ids"].shape[1]:], skip_special_tokens=True).strip()


def test_streamed_pieces_add_up_to_the_reply_and_greedy_is_repeatable(session):
    reply = Reply()
    pieces = list(session.stream(PROMPT, settings=GREEDY, reply=reply))
    assert len(pieces) >= 1
    assert "".join(pieces) == reply.text
    assert 1 <= reply.tokens <= GREEDY.max_new_tokens
    assert reply.finished == (reply.tokens < GREEDY.max_new_tokens)  # ended by EOS, or ran out of tokens
    assert session.reply(PROMPT, settings=GREEDY).text == reply.text.strip()


def test_side_by_side_base_is_the_plain_base_model_and_the_adapter_comes_back(session, demo_model_dir):
    from transformers import AutoModelForCausalLM

    tuned, base = session.side_by_side(PROMPT, GREEDY)
    plain = AutoModelForCausalLM.from_pretrained(demo_model_dir)
    assert base.text == plain_greedy(plain, session.tokenizer, PROMPT)
    assert tuned.text != base.text  # the adapter changed the model
    assert session.reply(PROMPT, settings=GREEDY).text == tuned.text  # adapter active again
    assert session._base is None  # no second copy: the base answer came from the same weights


def test_stop_ends_generation_early(session):
    stop, reply = threading.Event(), Reply()
    long = GenerationSettings(max_new_tokens=200, temperature=1.0, top_p=0.9)
    for _ in session.stream([{"role": "user", "content": "Tell me a story"}], base=True, settings=long,
                            stop=stop, reply=reply):
        stop.set()
    assert reply.tokens < 200
    assert reply.stopped or reply.finished


def test_settings_are_validated():
    with pytest.raises(TuneuiError, match="temperature"):
        GenerationSettings(temperature=-1).validate()
    with pytest.raises(TuneuiError, match="top_p"):
        GenerationSettings(top_p=0).validate()


def test_full_model_runs_compare_with_the_original_model(tiny_full_run, demo_model_dir):
    from transformers import AutoModelForCausalLM

    full = ChatSession.load(tiny_full_run / "adapter")  # the model directory itself, run found above it
    assert full.kind == "full" and full.has_base
    base = full.reply(PROMPT, base=True, settings=GREEDY)
    assert base.text == plain_greedy(AutoModelForCausalLM.from_pretrained(demo_model_dir), full.tokenizer, PROMPT)


def test_validation_prompts_and_saving_examples(tiny_run, tmp_path):
    prompts = validation_prompts(tiny_run, limit=3)
    assert 1 <= len(prompts) <= 3
    assert prompts[0].messages[-1]["role"] == "user" and prompts[0].reference
    run = tmp_path / "run"
    run.mkdir()
    conv = PROMPT + [{"role": "assistant", "content": "mib mur"}]
    save_example(run, conv)
    path = save_example(run, conv + [{"role": "user", "content": "again"}, {"role": "assistant", "content": "ok"}])
    rows = [json.loads(line) for line in path.read_text().splitlines()]
    assert [len(r["messages"]) for r in rows] == [2, 4]
    from tuneui.data import load_conversations

    assert len(load_conversations(str(path))) == 2  # a valid dataset for the next run
    with pytest.raises(TuneuiError, match="ends with a reply"):
        save_example(run, PROMPT)


def test_cli_answers_once_as_json(tiny_run, capsys):
    from tuneui.cli import main

    code = main(["chat", str(tiny_run), "--prompt", PROMPT[0]["content"], "--side-by-side",
                 "--max-new-tokens", "10", "--json"])
    out = json.loads(capsys.readouterr().out)
    assert code == 0
    assert out["schema"] == 1 and out["kind"] == "peft"
    assert out["tuned"]["text"] != out["base"]["text"]


def test_cli_names_a_missing_directory(tmp_path, capsys):
    from tuneui.cli import main

    assert main(["chat", str(tmp_path / "nope"), "--prompt", "hi"]) == 2
    err = capsys.readouterr().err
    assert "nope: no such run or adapter directory" in err and "Traceback" not in err


def test_abandoning_a_stream_stops_generation_and_frees_the_model(session):
    stream = session.stream(PROMPT, settings=GenerationSettings(max_new_tokens=500))
    next(stream)
    stream.close()  # the consumer went away after one piece
    assert session._lock.acquire(timeout=30)
    session._lock.release()
    assert session.reply(PROMPT, settings=GREEDY).tokens >= 1  # still usable
