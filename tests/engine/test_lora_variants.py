"""LoRA variants: each trains 3 real steps on a tiny Llama with the HF Trainer and does what it claims."""

from __future__ import annotations

import math

import pytest
import torch

from tuneui.contract.config import RunConfig
from tuneui.contract.errors import ConfigError
from tuneui.training.lora_variants import (
    LoraPlusMixin,
    LoraVariant,
    lora_config,
    save_adapter,
    snapshot_initial,
)

R, ALPHA = 8, 16.0


def _base():
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(0)
    return LlamaForCausalLM(LlamaConfig(vocab_size=96, hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                                        num_attention_heads=4, num_key_value_heads=2)).eval()


ROWS = [{"input_ids": [(7 * i + j) % 96 for j in range(24)], "labels": [(7 * i + j) % 96 for j in range(24)]}
        for i in range(12)]
PROBE = torch.tensor([[1, 5, 9, 13, 17, 21, 25, 29]])


def _train(v: LoraVariant, tmp_path, steps=3):
    from peft import get_peft_model
    from transformers import Trainer, TrainingArguments

    base = _base()
    with torch.no_grad():
        base_logits = base(PROBE).logits
    torch.manual_seed(1)
    model = get_peft_model(base, lora_config(v, r=R, alpha=ALPHA, dropout=0.0, target_modules="all-linear"))
    initial = snapshot_initial(model, v, tmp_path)
    before = {n: p.detach().clone() for n, p in model.named_parameters() if p.requires_grad}

    class VariantTrainer(LoraPlusMixin, Trainer):
        loraplus_lr_ratio = v.loraplus_lr_ratio

    args = TrainingArguments(output_dir=str(tmp_path / "t"), max_steps=steps, per_device_train_batch_size=4,
                             learning_rate=5e-3, logging_steps=1, use_cpu=True, save_strategy="no", report_to="none",
                             disable_tqdm=True, seed=3, neftune_noise_alpha=v.neftune_noise_alpha)
    trainer = VariantTrainer(model=model, args=args, train_dataset=ROWS)
    trainer.train()
    losses = [h["loss"] for h in trainer.state.log_history if "loss" in h]
    assert len(losses) == steps and all(math.isfinite(x) for x in losses)
    changed = [n for n, p in model.named_parameters() if p.requires_grad and not torch.equal(p, before[n])]
    assert changed, "no trainable parameter moved"
    return model, trainer, losses, base_logits, initial


def _logits(model):
    model.eval()
    with torch.no_grad():
        return model(PROBE).logits


def test_plain_lora_trains_and_needs_no_initial_snapshot(tmp_path):
    _, _, _, _, initial = _train(LoraVariant(), tmp_path)
    assert initial is None


def test_dora_adds_a_trained_magnitude_per_output_row(tmp_path):
    model, _, _, _, _ = _train(LoraVariant(use_dora=True), tmp_path)
    mags = {n: p for n, p in model.named_parameters() if "lora_magnitude_vector" in n}
    assert mags and all(p.requires_grad for p in mags.values())
    q = next(p for n, p in mags.items() if "q_proj" in n)
    assert q.shape == (64,)  # one per output feature of q_proj


def test_rslora_scales_by_alpha_over_sqrt_r(tmp_path):
    model, _, _, _, _ = _train(LoraVariant(use_rslora=True), tmp_path)
    layer = model.base_model.model.model.layers[0].self_attn.q_proj
    assert layer.scaling["default"] == pytest.approx(ALPHA / math.sqrt(R))
    plain = _train(LoraVariant(), tmp_path / "plain")[0].base_model.model.model.layers[0].self_attn.q_proj
    assert plain.scaling["default"] == pytest.approx(ALPHA / R)


@pytest.mark.parametrize("init", ["pissa", "pissa_fast", "olora"])
def test_pissa_and_olora_save_a_plain_lora_adapter_for_the_untouched_base(init, tmp_path):
    from peft import PeftModel

    model, _, _, base_logits, initial = _train(LoraVariant(lora_init=init), tmp_path)
    assert initial is not None and (initial / "adapter_model.safetensors").exists()
    trained = _logits(model)
    out = tmp_path / "adapter"
    save_adapter(model, out, initial)
    fresh = PeftModel.from_pretrained(_base(), out)
    assert fresh.peft_config["default"].r == 2 * R  # the conversion doubles the rank
    assert torch.allclose(_logits(fresh), trained, atol=1e-4)
    assert not torch.allclose(trained, base_logits, atol=1e-4)


def test_pissa_init_keeps_the_function_but_rewrites_the_base(tmp_path):
    from peft import get_peft_model

    base = _base()
    w = base.model.layers[0].self_attn.q_proj.weight.detach().clone()
    ref = _logits(base)
    model = get_peft_model(base, lora_config(LoraVariant(lora_init="pissa"), r=R, alpha=ALPHA, dropout=0.0,
                                             target_modules="all-linear"))
    assert torch.allclose(_logits(model), ref, atol=1e-4)
    assert not torch.allclose(model.base_model.model.model.layers[0].self_attn.q_proj.base_layer.weight, w)


def test_loraplus_gives_b_matrices_ratio_times_the_learning_rate(tmp_path):
    _, trainer, _, _, _ = _train(LoraVariant(loraplus_lr_ratio=16.0), tmp_path)
    # the scheduler has decayed every group to 0 by the last step; initial_lr is what it started from
    lrs = {g["initial_lr"] for g in trainer.optimizer.param_groups if g["params"]}
    assert lrs == {5e-3, 5e-3 * 16}
    names = {id(p): n for n, p in trainer.model.named_parameters()}
    fast = max(trainer.optimizer.param_groups, key=lambda g: g["initial_lr"])
    assert all("lora_B" in names[id(p)] for p in fast["params"])


def test_neftune_changes_training_and_is_removed_afterwards(tmp_path):
    _, _, plain, _, _ = _train(LoraVariant(), tmp_path / "a")
    model, _, noisy, _, _ = _train(LoraVariant(neftune_noise_alpha=5.0), tmp_path / "b")
    assert plain[0] != pytest.approx(noisy[0], abs=1e-7)  # same seed and data: only the noise differs
    emb = model.get_input_embeddings()
    model.train()
    assert torch.equal(emb(PROBE), emb(PROBE))  # no noise hook left after train()


@pytest.mark.parametrize("fields, message", [
    ({"technique": "full", "use_dora": True}, "use_dora: only applies to the LoRA techniques"),
    ({"technique": "freeze", "loraplus_lr_ratio": 16}, "loraplus_lr_ratio: only applies"),
    ({"technique": "qlora", "lora_init": "pissa"}, "PiSSA takes an SVD"),
    ({"technique": "lora_8bit", "lora_init": "pissa_fast"}, "PiSSA takes an SVD"),
    ({"lora_init": "svd"}, "lora_init: Input should be"),
    ({"use_dora": True, "lora_init": "olora"}, "olora with use_dora cannot be saved"),
    ({"loraplus_lr_ratio": 0.5}, "loraplus_lr_ratio: Input should be greater than or equal to 1"),
    ({"technique": "full", "neftune_noise_alpha": -1.0}, "neftune_noise_alpha: Input should be greater than 0"),
])
def test_invalid_combinations_are_config_errors_naming_the_field(fields, message):
    with pytest.raises(ConfigError, match=message):
        RunConfig.from_dict(fields)


def test_valid_combinations_pass_and_map_to_peft():
    cfg = RunConfig.from_dict({"technique": "qlora", "use_rslora": True, "lora_init": "olora", "loraplus_lr_ratio": 16,
                               "neftune_noise_alpha": 5})
    v = LoraVariant.from_config(cfg)
    lc = lora_config(v, r=8, alpha=16.0, dropout=0.0, target_modules="all-linear")
    assert (lc.use_rslora, lc.init_lora_weights, v.loraplus_lr_ratio) == (True, "olora", 16)
    assert lora_config(LoraVariant.from_config(RunConfig(technique="qlora", use_dora=True)), r=8, alpha=16.0,
                       dropout=0.0, target_modules="all-linear").use_dora
    assert RunConfig(technique="full", neftune_noise_alpha=5.0).neftune_noise_alpha == 5.0
    assert lora_config(LoraVariant(lora_init="pissa_fast"), r=8, alpha=16.0, dropout=0.0,
                       target_modules="all-linear").init_lora_weights == "pissa_niter_16"


def test_switching_to_a_technique_that_cannot_use_the_variants_turns_them_off():
    cfg = RunConfig(use_dora=True, loraplus_lr_ratio=16.0, neftune_noise_alpha=5.0)
    full = cfg.updated(technique="full")
    assert (full.use_dora, full.lora_init, full.loraplus_lr_ratio, full.neftune_noise_alpha) == (
        False, "default", None, 5.0)
    q = RunConfig(use_rslora=True, lora_init="pissa", loraplus_lr_ratio=16.0).updated(technique="qlora")
    assert (q.use_rslora, q.lora_init, q.loraplus_lr_ratio) == (True, "default", 16.0)
    with pytest.raises(ConfigError, match="use_dora"):  # asked for explicitly: still an error
        cfg.updated(technique="full", use_dora=True)


def _saved_alive_bytes(model, ids) -> int:
    """Bytes autograd still holds when the backward starts (graphs dropped in the forward are not counted)."""
    import gc
    import weakref

    saved = []

    def pack(t):
        saved.append((weakref.ref(t), t.untyped_storage().data_ptr(), t.untyped_storage().nbytes()))
        return t

    params = {p.untyped_storage().data_ptr() for p in model.parameters()}
    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        loss = model(input_ids=ids, labels=ids).loss
    gc.collect()
    alive = {}
    for ref, ptr, n in saved:
        if ref() is not None and ptr not in params:
            alive[ptr] = max(alive.get(ptr, 0), n)
    del loss
    return sum(alive.values())


def test_dora_memory_terms_match_what_autograd_keeps():
    from peft import get_peft_model

    from tuneui.recommend.memory import dora_costs

    def extra(tokens):
        got = {}
        for name, v in (("lora", LoraVariant()), ("dora", LoraVariant(use_dora=True))):
            model = get_peft_model(_base(), lora_config(v, r=R, alpha=ALPHA, dropout=0.0, target_modules="all-linear"))
            model.train()
            got[name] = (_saved_alive_bytes(model, torch.arange(tokens).remainder(96).view(1, -1)),
                         sum(p.numel() for p in model.parameters() if p.requires_grad))
        return got["dora"][0] - got["lora"][0], got["dora"][1] - got["lora"][1]

    (short, params), (long, _) = extra(32), extra(96)
    # hidden 64, 4 heads of 16 (q 64), 2 kv heads (kv 32), MLP 128, 2 layers
    shapes = [(64, 64), (64, 32), (64, 32), (64, 64), (64, 128), (64, 128), (128, 64)]
    costs = dora_costs(shapes, num_layers=2, activation_bytes=4)
    assert (long - short) / (96 - 32) == costs["saved_per_token"]
    assert params == costs["magnitude_params"]


@pytest.mark.parametrize("variant", [LoraVariant(), LoraVariant(lora_init="gaussian"), LoraVariant(use_dora=True),
                                     LoraVariant(use_rslora=True)], ids=["default", "gaussian", "dora", "rslora"])
def test_after_training_the_adapter_switched_off_is_exactly_the_base(variant, tmp_path):
    """Why the run measures its base after training (tuneui/training/base_eval.py) for these variants."""
    from tuneui.training.base_eval import measured_before_training

    model, _, _, base_logits, _ = _train(variant, tmp_path)
    assert not torch.allclose(_logits(model), base_logits, atol=1e-4)  # training changed the model
    with model.disable_adapter():
        assert torch.allclose(_logits(model), base_logits, rtol=0, atol=1e-6)
    cfg = RunConfig(use_dora=variant.use_dora, use_rslora=variant.use_rslora, lora_init=variant.lora_init)
    assert not measured_before_training(cfg)


@pytest.mark.parametrize("init", ["pissa", "olora"])
def test_pissa_and_olora_bases_are_gone_after_training_so_they_are_measured_before(init, tmp_path):
    from tuneui.training.base_eval import measured_before_training

    model, _, _, base_logits, _ = _train(LoraVariant(lora_init=init), tmp_path)
    with model.disable_adapter():
        assert not torch.allclose(_logits(model), base_logits, atol=1e-4)  # the residual base, not the original
    assert measured_before_training(RunConfig(lora_init=init))
    assert not measured_before_training(RunConfig(technique="full"))
