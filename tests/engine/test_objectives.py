"""Which objectives train which data (what the wizard's Technique step offers), and what switching the
objective turns off."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.engine.test_preference_training import PAIRS, _kto_file
from tuneui.contract.config import RunConfig
from tuneui.contract.errors import ConfigError

REAL = Path(__file__).parents[1] / "data" / "real"


def test_a_loaded_dataset_names_the_objectives_that_train_it(tmp_path):
    from tuneui.engine import LocalEngine

    engine = LocalEngine()
    pairs = engine.load_dataset(PAIRS)
    # An SFT run is still refused (the CLI's one-line reason); DPO is what trains it.
    assert pairs.kind == "preference" and pairs.objectives == ["dpo", "orpo", "simpo"] and pairs.refusal
    kto = engine.load_dataset(_kto_file(tmp_path))
    assert kto.kind == "kto" and kto.objectives == ["kto"]
    sft = engine.load_dataset(REAL / "sft-messages" / "openai-cookbook-toy-chat.jsonl")
    assert sft.kind == "sft" and sft.objectives == ["sft"] and sft.refusal is None
    images = engine.load_dataset(REAL / "multimodal" / "llamafactory-mllm-demo-image.json")
    assert images.objectives == [] and images.refusal


def test_switching_the_objective_turns_off_what_only_the_old_one_allowed():
    cfg = RunConfig(packing=True, early_stopping_patience=2)
    dpo = cfg.updated(objective="dpo", dpo_loss_type="ipo")
    assert (dpo.packing, dpo.early_stopping_patience, dpo.dpo_loss_type) == (False, 0, "ipo")
    kto = dpo.updated(objective="kto")
    assert (kto.dpo_loss_type, kto.kto_loss_type) == ("sigmoid", "kto")
    assert dpo.updated(objective="sft").dpo_loss_type == "sigmoid"
    simpo = dpo.updated(objective="simpo", simpo_gamma=1.2)
    assert (simpo.simpo_gamma, simpo.updated(objective="orpo").simpo_gamma) == (1.2, 0.5)
    with pytest.raises(ConfigError, match="simpo_gamma"):  # the check the reset keeps the wizard clear of
        RunConfig.from_dict({"objective": "orpo", "simpo_gamma": 1.2})
    with pytest.raises(ConfigError, match="packing"):  # asked for together: refused, not silently dropped
        cfg.updated(objective="dpo", packing=True)


# Each objective with every field only it allows set away from its default (what Settings lets you edit).
ITS_OWN = {"sft": {"packing": True, "early_stopping_patience": 2}, "dpo": {"dpo_loss_type": "ipo"},
           "kto": {"kto_loss_type": "apo_zero_unpaired"}, "orpo": {}, "simpo": {"simpo_gamma": 1.2}}


@pytest.mark.parametrize("old", sorted(ITS_OWN))
@pytest.mark.parametrize("new", sorted(ITS_OWN))
def test_every_objective_switch_the_wizard_can_make_gives_a_valid_config(old, new):
    """The Technique step switches with `updated(objective=...)` after Settings was edited: whatever the
    old objective alone allowed goes, and the result always passes RunConfig's checks."""
    edited = RunConfig(objective=old, **ITS_OWN[old])
    switched = edited.updated(objective=new)
    assert RunConfig.model_validate(switched.model_dump()) == switched
    for field, value in ITS_OWN[old].items():
        assert (getattr(switched, field) == value) == (new == old), field  # kept only by the same objective
