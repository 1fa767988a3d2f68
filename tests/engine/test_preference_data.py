"""Preference and KTO encoding: the tokens a pair compares are exactly the tokens SFT trains for that
reply (tuneui's masking on the demo model's template), replies in a multi-turn prompt are context
only, and the objective decides which kind of data a run accepts."""

from __future__ import annotations

from pathlib import Path

import pytest

from tuneui.contract.config import RunConfig
from tuneui.contract.datasets import Example
from tuneui.contract.errors import ConfigError, DataError
from tuneui.templates import IGNORE_INDEX
from tuneui.training.dataset import encode_all, prepare_run_data
from tuneui.training.preference_data import PairCollator, UnpairedCollator, encode_pairs, encode_unpaired

PAIRS = Path(__file__).parents[1] / "data" / "real" / "preference" / "llamafactory-v1-dpo-content-parts-value.jsonl"
U1 = {"role": "user", "content": "What is the capital of France?"}
A1 = {"role": "assistant", "content": "Paris."}
U2 = {"role": "user", "content": "And of Italy?"}
GOOD = {"role": "assistant", "content": "Rome."}
BAD = {"role": "assistant", "content": "Milan, I think."}


def _sft_mask(tok, conv, max_len=256):
    rows, stats = encode_all(tok, [conv], max_len)
    assert stats.kept == 1
    return rows[0]["input_ids"], [int(x != IGNORE_INDEX) for x in rows[0]["labels"]]


def test_each_side_of_a_pair_is_masked_as_sft_masks_that_reply(demo_tokenizer):
    rows, stats = encode_pairs(demo_tokenizer, [Example(messages=[U1], chosen=[GOOD], rejected=[BAD])], 256)
    assert stats.kept == 1 and stats.dropped == 0
    row = rows[0]
    assert (row["chosen_input_ids"], row["chosen_mask"]) == _sft_mask(demo_tokenizer, [U1, GOOD])
    assert (row["rejected_input_ids"], row["rejected_mask"]) == _sft_mask(demo_tokenizer, [U1, BAD])
    trained = [t for t, m in zip(row["chosen_input_ids"], row["chosen_mask"]) if m]
    assert demo_tokenizer.decode(trained) == "Rome.<|im_end|>"  # the reply and its end token, no separator


def test_replies_in_a_multi_turn_prompt_are_context_not_compared(demo_tokenizer):
    rows, _ = encode_pairs(demo_tokenizer, [Example(messages=[U1, A1, U2], chosen=[GOOD], rejected=[BAD])], 256)
    row = rows[0]
    assert "Paris." in demo_tokenizer.decode(row["chosen_input_ids"])
    trained = [t for t, m in zip(row["chosen_input_ids"], row["chosen_mask"]) if m]
    assert demo_tokenizer.decode(trained) == "Rome.<|im_end|>"
    sft_ids, sft_mask = _sft_mask(demo_tokenizer, [U1, A1, U2, GOOD])
    assert row["chosen_input_ids"] == sft_ids and sum(row["chosen_mask"]) < sum(sft_mask)  # SFT trains Paris too


def test_a_pair_loses_both_sides_or_neither(demo_tokenizer):
    long_prompt = {"role": "user", "content": "word " * 200}
    pairs = [Example(messages=[long_prompt], chosen=[GOOD], rejected=[BAD]),
             Example(messages=[U1], chosen=[GOOD], rejected=[BAD])]
    rows, stats = encode_pairs(demo_tokenizer, pairs, 64)
    assert len(rows) == 1 and stats.refused == {"no_reply_after_truncation": 1}


def test_kto_rows_carry_a_kl_row_with_another_reply_of_their_batch(demo_tokenizer):
    ex = [Example(messages=[U1], completion=[GOOD], label=True), Example(messages=[U2], completion=[BAD], label=False),
          Example(messages=[U1], completion=[A1], label=True)]
    rows, stats = encode_unpaired(demo_tokenizer, ex, 256, block=2)
    assert stats.kept == 3 and [r["label"] for r in rows] == [True, False, True]
    decode = demo_tokenizer.decode
    kl_reply = [decode([t for t, m in zip(r["KL_input_ids"], r["KL_completion_mask"]) if m]) for r in rows]
    assert kl_reply == ["Milan, I think.<|im_end|>", "Rome.<|im_end|>", "Paris.<|im_end|>"]  # a block of one: itself
    assert (rows[1]["input_ids"], rows[1]["completion_mask"]) == _sft_mask(demo_tokenizer, [U2, BAD])
    batch = UnpairedCollator(0)(rows[:2])
    assert batch["label"].tolist() == [True, False] and batch["KL_input_ids"].shape[0] == 2


def test_the_pair_collator_puts_chosen_rows_before_rejected_rows(demo_tokenizer):
    rows, _ = encode_pairs(demo_tokenizer, [Example(messages=[U1], chosen=[GOOD], rejected=[BAD]),
                                            Example(messages=[U2], chosen=[A1], rejected=[BAD])], 256)
    batch = PairCollator(demo_tokenizer.pad_token_id)(rows)
    assert batch["input_ids"].shape[0] == 4
    n = len(rows[1]["rejected_input_ids"])
    assert batch["input_ids"][3, :n].tolist() == rows[1]["rejected_input_ids"]
    assert batch["completion_mask"][0].sum().item() == sum(rows[0]["chosen_mask"])
    assert batch["attention_mask"][0].sum().item() == len(rows[0]["chosen_input_ids"])


def _cfg(tmp_path, **kw) -> RunConfig:
    return RunConfig(model="demo-tiny", dataset=str(PAIRS), clean=False, **kw)


def test_preference_data_is_refused_by_an_sft_run_and_kto_run_naming_the_objective(tmp_path):
    with pytest.raises(DataError, match="preference data .*objective=dpo.*SFT would throw every rejected reply"):
        prepare_run_data(_cfg(tmp_path), tmp_path / "a")
    with pytest.raises(DataError, match="objective=kto needs KTO data"):
        prepare_run_data(_cfg(tmp_path, objective="kto"), tmp_path / "b")
    data = prepare_run_data(_cfg(tmp_path, objective="dpo"), tmp_path / "c")
    assert data.train_full and all(e.chosen and e.rejected for e in data.train_full + data.val_full)


def test_a_preference_objective_refuses_sft_data(tmp_path):
    sft = tmp_path / "sft.jsonl"
    sft.write_text('{"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"}]}\n' * 3)
    with pytest.raises(DataError, match="objective=dpo trains preference data.*objective=sft"):
        prepare_run_data(RunConfig(dataset=str(sft), objective="dpo", clean=False), tmp_path / "r")


@pytest.mark.parametrize("fields, named", [
    ({"dpo_loss_type": "ipo"}, "dpo_loss_type"),
    ({"objective": "kto", "micro_batch_size": 1}, "micro_batch_size"),
    ({"objective": "dpo", "packing": True}, "packing"),
    ({"objective": "dpo", "early_stopping_patience": 2}, "early_stopping_patience"),
])
def test_objective_settings_are_checked_naming_the_field(fields, named):
    with pytest.raises(ConfigError, match=rf"config: {named}: "):
        RunConfig.from_dict(fields)
    RunConfig.from_dict({"objective": "kto", "micro_batch_size": 1, "kto_loss_type": "apo_zero_unpaired"})
    RunConfig.from_dict({"objective": "dpo", "dpo_loss_type": "ipo", "technique": "qlora"})
