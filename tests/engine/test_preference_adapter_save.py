"""A DPO run whose reference is TRL's frozen copy of the adapter ("ref": PiSSA, OLoRA, DoRA) saves the trained
adapter alone: no `ref/` folder in its checkpoints or in adapter/, and adapter/ loaded with plain peft on the
untouched base gives the logits the trained model gave."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from tests.engine.test_preference_training import PAIRS, _cfg
from tuneui.training import checkpoints


def _folders(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_dir())


def test_a_pissa_dpo_run_saves_only_the_trained_adapter(tmp_path, demo_model_dir):
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    from tuneui.training.runner import TrainingRun

    run_dir = tmp_path / "run"
    run_dir.mkdir()
    cfg = _cfg(PAIRS, objective="dpo", lora_init="pissa", micro_batch_size=2, max_steps=2, save_steps=1,
               max_seq_length=128, eval_max_examples=2)
    run = TrainingRun(cfg, run_dir)
    run.setup()
    run.train()
    assert "ref" in run.model.peft_config  # TRL's copy was the reference: the case this test is about
    adapter = run.save_final()

    kept = checkpoints.listed(run.run_dir)
    assert [c.step for c in kept] == [1, 2]
    for folder in [c.path for c in kept] + [adapter]:
        assert _folders(folder) == [], f"{folder.name} holds {_folders(folder)}"
        assert (folder / "adapter_config.json").exists() and (folder / "adapter_model.safetensors").exists()

    probe = torch.tensor([[1, 5, 9, 42, 77, 3, 11, 8]])
    run.model.eval()
    with torch.no_grad():
        trained = run.model(probe).logits
        base = AutoModelForCausalLM.from_pretrained(run.model_path, dtype=torch.float32)
        reloaded = PeftModel.from_pretrained(base, adapter).eval()
        assert list(reloaded.peft_config) == ["default"]
        again = reloaded(probe).logits
        with reloaded.disable_adapter():
            untouched = reloaded(probe).logits
    assert torch.allclose(again, trained, atol=1e-4), (again - trained).abs().max()
    assert not torch.allclose(trained, untouched, atol=1e-4)  # the adapter changed the model


@pytest.mark.parametrize("init", ["pissa", "olora"])
def test_trls_reference_copy_of_a_rewriting_init_leaves_the_starting_model_as_it_was(tmp_path, demo_model_dir, init):
    """TRL builds its copy with the adapter's own config: PiSSA's or OLoRA's init must not run a second time on
    the base the first one rewrote, or neither the policy nor the reference would be the model DPO starts from."""
    from transformers import AutoModelForCausalLM

    from tests.engine.test_preference_training import _trainer

    probe = torch.tensor([[1, 5, 9, 42, 77, 3, 11, 8]])
    base = AutoModelForCausalLM.from_pretrained(demo_model_dir, dtype=torch.float32).eval()
    trainer, _, _ = _trainer(_cfg(PAIRS, objective="dpo", lora_init=init), tmp_path, limit=4)
    model = trainer.model.eval()
    with torch.no_grad():
        start = base(probe).logits
        policy = model(probe).logits
        model.set_adapter("ref")
        reference = model(probe).logits
        model.set_adapter("default")
    assert model.peft_config["default"].init_lora_weights == init
    assert torch.allclose(policy, start, atol=1e-4), (policy - start).abs().max()
    assert torch.equal(reference, policy)
