"""Lengths measured before training (the Clean step's token statistics, the cleaning report) are those
of the sequences training encodes: a pair's longer side after its prompt, a KTO reply after its prompt.
They measured `messages` alone, a pair's prompt: the wizard showed "0 of 0" tokens for preference data
and the recommender planned for its default length instead of the data's."""
from pathlib import Path

import pytest

from tuneui.contract.config import RunConfig
from tuneui.data import load_dataset
from tuneui.data.sequences import as_trained
from tuneui.engine import LocalEngine
from tuneui.training.preference_data import encode_pairs

REAL = Path(__file__).parents[1] / "data" / "real" / "preference"


@pytest.mark.parametrize("name", ["torchtune-hh-rlhf-tiny-messages.json",
                                  "llamafactory-v1-dpo-content-parts-value.jsonl"])
def test_the_clean_steps_token_lengths_of_real_pairs_are_the_longer_sides_training_encodes(name, demo_model_dir):
    examples = load_dataset(str(REAL / name)).preview
    assert examples and all(ex.kind == "preference" for ex in examples)
    cfg = RunConfig(model=str(demo_model_dir), dataset=str(REAL / name), objective="dpo")
    insight = LocalEngine().token_insight(examples, cfg)
    from tuneui.modelload import load_tokenizer

    rows, _ = encode_pairs(load_tokenizer(cfg), examples, 2**31 - 1)
    sides = [(len(r["chosen_input_ids"]), len(r["rejected_input_ids"])) for r in rows]
    lengths = insight.stats.lengths
    assert lengths.count == len(examples) == len(sides)
    # by characters the longer side is the longer in tokens, or within a few tokens of it
    assert max(max(s) for s in sides) - 8 <= lengths.max <= max(max(s) for s in sides)
    assert lengths.total >= sum(max(s) for s in sides) - 8 * len(sides)
    assert lengths.total > sum(len(ex.messages) for ex in examples) * 4  # more than the prompts' few tokens
    # the preview is the first pair's chosen reply, exactly as trained (its tokens marked trained)
    first = examples[0]
    assert insight.preview is not None and insight.preview.refusal is None
    chosen_text = str(first.chosen[-1]["content"] if isinstance(first.chosen[-1]["content"], str)
                      else first.chosen[-1]["content"][0]["text"])
    assert chosen_text.strip()[:20] in "".join(s["text"] for s in insight.preview.segments if s["trained"])


def test_a_kto_row_is_its_prompt_then_its_reply_and_earlier_replies_stay_context():
    from tuneui.contract.datasets import Example

    prompt = [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"},
              {"role": "user", "content": "date?"}]
    kto = Example(prompt, completion=[{"role": "assistant", "content": "2024-01-01"}], label=True)
    conv = as_trained(kto)
    assert [m["content"] for m in conv] == ["hi", "hello", "date?", "2024-01-01"]
    assert conv[1]["train"] is False and "train" not in conv[3]
    pair = Example(prompt, chosen=[{"role": "assistant", "content": "short"}],
                   rejected=[{"role": "assistant", "content": "a much longer reply"}])
    assert as_trained(pair)[-1]["content"] == "a much longer reply"
    assert as_trained(pair, side="chosen")[-1]["content"] == "short"
