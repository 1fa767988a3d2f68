"""Function calling kept whole: tool definitions per example, calls in the shape chat templates read,
through loading, cleaning (the keys include the tools), the split files and the encoder."""

from __future__ import annotations

import json

import pytest

from tuneui.cleaning import clean
from tuneui.contract.datasets import Example
from tuneui.data import load_examples
from tuneui.data.tools import ToolFormatError, normalise_calls, normalise_tools

WEATHER = {"name": "get_weather", "description": "Weather for a city",
           "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}


def write_jsonl(path, rows):
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def test_tool_definitions_in_every_shape_become_openai_tools():
    wrapped = [{"type": "function", "function": WEATHER}]
    assert normalise_tools(json.dumps([WEATHER])) == wrapped  # LLaMA-Factory: a JSON string of bare schemas
    assert normalise_tools([{"type": "function", "function": WEATHER}]) == wrapped
    assert normalise_tools(WEATHER) == wrapped and normalise_tools("[]") is None and normalise_tools("") is None
    with pytest.raises(ToolFormatError):
        normalise_tools("not json")


def test_calls_get_object_arguments_and_keep_their_ids():
    calls = normalise_calls([{"id": "c1", "type": "function",
                              "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'}}])
    assert calls == [{"type": "function", "function": {"name": "get_weather", "arguments": {"city": "Paris"}},
                      "id": "c1"}]
    assert normalise_calls('{"name": "get_weather", "arguments": {"city": "Rome"}}')[0]["function"]["arguments"] == {
        "city": "Rome"}


def test_sharegpt_tools_column_and_function_call_turns(tmp_path):
    row = {"conversations": [{"from": "human", "value": "Weather in Paris?"},
                             {"from": "function_call", "value": '{"name": "get_weather", "arguments": {"city": "Paris"}}'},
                             {"from": "observation", "value": '{"temp": 21}'},
                             {"from": "gpt", "value": "It is 21 degrees."}],
           "tools": json.dumps([WEATHER])}
    examples, _, res = load_examples(write_jsonl(tmp_path / "g.jsonl", [row]))
    ex = examples[0]
    assert ex.tools == [{"type": "function", "function": WEATHER}] and not res.problems.kept
    assert ex.messages[1] == {"role": "assistant", "content": "",
                              "tool_calls": [{"type": "function", "function": {"name": "get_weather",
                                                                               "arguments": {"city": "Paris"}}}]}
    assert ex.messages[2]["role"] == "tool"


def test_openai_messages_keep_call_ids_names_reasoning_and_loss_flags(tmp_path):
    row = {"tools": [{"type": "function", "function": WEATHER}], "messages": [
        {"role": "user", "content": "Weather?"},
        {"role": "assistant", "content": None, "reasoning_content": "I should call the tool.",
         "tool_calls": [{"id": "c1", "type": "function", "function": {"name": "get_weather", "arguments": "{}"}}]},
        {"role": "tool", "tool_call_id": "c1", "name": "get_weather", "content": "sunny"},
        {"role": "assistant", "content": "Sunny.", "loss": False}]}
    ex = load_examples(write_jsonl(tmp_path / "o.jsonl", [row]))[0][0]
    assert ex.messages[1]["reasoning_content"] == "I should call the tool." and ex.messages[1]["content"] == ""
    assert ex.messages[2] == {"role": "tool", "content": "sunny", "tool_call_id": "c1", "name": "get_weather"}
    assert ex.messages[3] == {"role": "assistant", "content": "Sunny.", "train": False}


def test_legacy_functions_and_function_call(tmp_path):
    (tmp_path / "f.json").write_text(json.dumps({"functions": [WEATHER], "messages": [
        {"role": "user", "content": "Weather?"},
        {"role": "assistant", "content": None, "function_call": {"name": "get_weather", "arguments": '{"city": "Oslo"}'}},
        {"role": "function", "name": "get_weather", "content": "cold"},
        {"role": "assistant", "content": "Cold."}]}))
    examples, _, res = load_examples(tmp_path / "f.json")
    ex = examples[0]
    assert res.examples == 1 and ex.tools == [{"type": "function", "function": WEATHER}]
    assert ex.messages[1]["tool_calls"][0]["function"] == {"name": "get_weather", "arguments": {"city": "Oslo"}}
    assert ex.messages[2] == {"role": "tool", "content": "cold", "name": "get_weather"}


def test_examples_that_differ_only_in_tools_are_not_duplicates():
    conv = [{"role": "user", "content": "Give me a password of 12 characters please"},
            {"role": "assistant", "content": "", "tool_calls": [
                {"type": "function", "function": {"name": "make_password", "arguments": {"length": 12}}}]},
            {"role": "tool", "content": '{"password": "x7#Lk9!qA2$m"}'},
            {"role": "assistant", "content": "Here is your new password: x7#Lk9!qA2$m. Keep it somewhere safe, "
                                             "and do not share it with anyone you do not trust."}]
    a = Example(messages=conv, tools=[{"type": "function", "function": {"name": "make_password",
                                                                        "description": "A random password"}}])
    b = Example(messages=conv, tools=[{"type": "function", "function": {"name": "make_password",
                                                                        "description": "A password, random"}}])
    result = clean([a, b, a])
    assert result.kept_indices == [0, 1] and result.removed_indices["exact_duplicates"] == [2]
    assert result.report.filter("near_duplicates").removed == 0


def test_split_files_keep_tools_and_message_fields(tmp_path, capsys):
    from tuneui.cleaning.output import read_split_file
    from tuneui.cli import main

    rows = [{"tools": [{"type": "function", "function": WEATHER}], "messages": [
        {"role": "user", "content": f"What is the weather in city number {i}?"},
        {"role": "assistant", "content": "", "tool_calls": [{"id": f"c{i}", "type": "function", "function": {
            "name": "get_weather", "arguments": {"city": f"city {i}"}}}]},
        {"role": "tool", "tool_call_id": f"c{i}", "name": "get_weather", "content": f"{i} degrees"},
        {"role": "assistant", "content": f"It is {i} degrees in city number {i} right now."}]} for i in range(12)]
    path = write_jsonl(tmp_path / "t.jsonl", rows)
    assert main(["data", "clean", str(path), "-o", str(tmp_path / "out"), "--val-fraction", "0.25"]) == 0
    back = read_split_file(tmp_path / "out" / "train.parquet") + read_split_file(tmp_path / "out" / "val.parquet")
    assert len(back) == 12 and all(e.tools == [{"type": "function", "function": WEATHER}] for e in back)
    sample = next(e for e in back if e.messages[0]["content"].endswith(" 3?"))
    assert sample.messages == [{k: v for k, v in m.items()} for m in rows[3]["messages"]]
    # and the split file is a dataset tuneui reads back as the same examples
    again = load_examples(tmp_path / "out" / "train.parquet")[0]
    assert {json.dumps(e.to_dict(), sort_keys=True) for e in again} <= {json.dumps(e.to_dict(), sort_keys=True)
                                                                         for e in back}


TOOL_TEMPLATE = (
    "{% if tools %}<|im_start|>system\nTools: {{ tools | tojson }}<|im_end|>\n{% endif %}"
    "{% for m in messages %}<|im_start|>{{ m.role }}\n{{ m.content }}"
    "{% if m.tool_calls %}{% for c in m.tool_calls %}<call>{{ c.function | tojson }}</call>{% endfor %}{% endif %}"
    "<|im_end|>\n{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)


def test_encode_all_renders_each_examples_tools_through_the_template(demo_tokenizer):
    import copy

    from tuneui.training.dataset import encode_all

    tok = copy.deepcopy(demo_tokenizer)
    tok.chat_template = TOOL_TEMPLATE
    conv = [{"role": "user", "content": "Weather in Paris?"},
            {"role": "assistant", "content": "", "tool_calls": [{"type": "function", "function": {
                "name": "get_weather", "arguments": {"city": "Paris"}}}]},
            {"role": "tool", "content": "sunny"},
            {"role": "assistant", "content": "Sunny."}]
    tools = [{"type": "function", "function": WEATHER}]
    with_tools, _ = encode_all(tok, [conv], 512, tools=[tools])
    without, _ = encode_all(tok, [conv], 512)
    text = tok.decode(with_tools[0]["input_ids"])
    assert "get_weather" in text.split("<|im_start|>user")[0]  # offered before the conversation
    assert len(with_tools[0]["input_ids"]) > len(without[0]["input_ids"])
    trained = tok.decode([t for t in with_tools[0]["labels"] if t != -100])
    assert '"name": "get_weather"' in trained and "Sunny." in trained and "sunny" not in trained
