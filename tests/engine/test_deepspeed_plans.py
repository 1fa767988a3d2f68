"""DeepSpeed ZeRO plans: the JSON passes DeepSpeed's own parser and the HF Trainer's consistency check, the
accelerate YAML loads as accelerate's ClusterConfig, and the memory figures equal DeepSpeed's estimators."""

from __future__ import annotations

import json

import pytest
import yaml

from tuneui.contract.config import RunConfig
from tuneui.recommend.zero import model_state_bytes, zero_states
from tuneui.training.deepspeed_plans import (
    STRATEGIES,
    accelerate_yaml,
    deepspeed_config,
    file_names,
)

CFG = RunConfig(name="big", micro_batch_size=2, gradient_accumulation_steps=8, max_grad_norm=0.5,
                learning_rate=1e-4, weight_decay=0.01, precision="bf16")


@pytest.mark.parametrize("strategy", list(STRATEGIES))
def test_deepspeed_parses_each_generated_config(strategy):
    pytest.importorskip("deepspeed")
    from deepspeed.runtime.config import DeepSpeedConfig

    parsed = DeepSpeedConfig(json.loads(json.dumps(deepspeed_config(CFG, strategy))))
    stage, offload = STRATEGIES[strategy]
    assert parsed.zero_optimization_stage == stage
    assert parsed.train_micro_batch_size_per_gpu == 2 and parsed.gradient_accumulation_steps == 8
    assert parsed.train_batch_size == 16  # world size 1 without a process group
    assert parsed.bfloat16_config.enabled and not parsed.float16_config.enabled
    assert parsed.gradient_clipping == 0.5
    zero = parsed.zero_config
    assert (zero.offload_optimizer is not None) == offload
    assert (zero.offload_param is not None) == (offload and stage == 3)
    if offload:
        assert parsed.optimizer_name == "adamw" and parsed.optimizer_params["lr"] == 1e-4


def test_deepspeed_parser_really_rejects_bad_configs():
    pytest.importorskip("deepspeed")
    from deepspeed.runtime.config import DeepSpeedConfig

    bad = deepspeed_config(CFG, "zero3")
    bad["zero_optimization"]["stage"] = 7
    with pytest.raises(Exception, match="stage"):
        DeepSpeedConfig(bad)
    bad = deepspeed_config(CFG, "zero2")
    bad["zero_optimization"]["offload_optimizer"] = {"device": "gpu-ram"}
    with pytest.raises(Exception, match="device"):
        DeepSpeedConfig(bad)


@pytest.mark.parametrize("strategy", ["zero2", "zero3_offload"])
@pytest.mark.parametrize("fields", [{"precision": "fp32"}, {"precision": "bf16"}, {"technique": "full"},
                                    {"technique": "qlora", "precision": "auto"}])
def test_hf_trainer_accepts_the_values_as_the_runners_own(strategy, fields, tmp_path):
    """The Trainer fills 'auto' and refuses a DeepSpeed value that contradicts its TrainingArguments; these are
    the runner's own (training_arguments), so the launched run is consistent."""
    pytest.importorskip("deepspeed")
    from transformers.integrations.deepspeed import HfTrainerDeepSpeedConfig

    from tuneui.training.arguments import training_arguments

    cfg = CFG.model_copy(update=fields)
    args = training_arguments(cfg, tmp_path)
    hf = HfTrainerDeepSpeedConfig(deepspeed_config(cfg, strategy))
    hf.trainer_config_process(args)
    assert not hf.mismatches, hf.mismatches
    wrong = deepspeed_config(cfg.model_copy(update={"micro_batch_size": 3}), strategy)
    hf = HfTrainerDeepSpeedConfig(wrong)
    hf.trainer_config_process(args)
    assert any("train_micro_batch_size_per_gpu" in m for m in hf.mismatches)


@pytest.mark.parametrize("strategy", list(STRATEGIES))
def test_accelerate_yaml_is_a_deepspeed_cluster_config(strategy, tmp_path):
    from accelerate.commands.config.config_args import ClusterConfig

    ds_json, name = file_names(CFG, strategy)
    path = tmp_path / name
    path.write_text(accelerate_yaml(strategy, ds_json, gpus_per_node=8, nodes=2))
    cc = ClusterConfig.from_yaml_file(str(path))
    assert str(cc.distributed_type) in ("DEEPSPEED", "DistributedType.DEEPSPEED")
    assert cc.num_processes == 16 and cc.num_machines == 2
    assert cc.deepspeed_config["deepspeed_config_file"] == ds_json
    assert cc.deepspeed_config["zero3_init_flag"] == (STRATEGIES[strategy][0] == 3)


def test_accelerate_deepspeed_plugin_reads_the_json(tmp_path):
    pytest.importorskip("deepspeed")
    from accelerate.utils import DeepSpeedPlugin

    path = tmp_path / "ds.json"
    path.write_text(json.dumps(deepspeed_config(CFG, "zero3_offload")))
    plugin = DeepSpeedPlugin(hf_ds_config=str(path))
    assert plugin.zero_stage == 3
    assert plugin.deepspeed_config["zero_optimization"]["offload_param"]["device"] == "cpu"


def test_print_launch_offers_every_strategy_with_its_estimate_and_renders_the_chosen_one():
    from tuneui.training.launch_plans import STRATEGIES as ALL
    from tuneui.training.launch_plans import render

    cfg = CFG.model_copy(update={"model": "demo", "launch_strategy": "zero3"})
    text = render(cfg, "runs/big/run.toml", gpus=4, nodes=2)
    table = [line for line in text.splitlines() if line.startswith("# ") and "GiB" in line and "  " in line]
    assert [line.split()[1 + line.startswith("# >")] for line in table] == list(ALL)
    assert "# > zero3 " in text and "CPU RAM" in text
    ds_json, yaml_name = file_names(cfg, "zero3")
    body = text.split(f"# 1. save as {ds_json}", 1)[1].split("\n", 1)[1].split("\n# 1b.", 1)[0]
    assert json.loads(body)["zero_optimization"]["stage"] == 3
    y = text.split(f"# 1b. save as {yaml_name}\n", 1)[1].split("\n\n# 2.", 1)[0]
    assert yaml.safe_load(y)["deepspeed_config"]["deepspeed_config_file"] == ds_json
    assert f"accelerate launch --config_file {yaml_name} -m tuneui.training runs/big/run.toml" in text
    assert "#SBATCH --nodes=2" in text and "--machine_rank $SLURM_NODEID" in text
    fsdp = render(cfg.model_copy(update={"launch_strategy": "fsdp"}), "runs/big/run.toml", gpus=4)
    assert "distributed_type: FSDP" in fsdp and "# > fsdp " in fsdp and "DEEPSPEED" not in fsdp


def test_offload_refuses_optimizers_deepspeed_would_replace():
    from tuneui.contract.errors import ConfigError

    with pytest.raises(ConfigError, match="loraplus_lr_ratio: DeepSpeed's CPU offload"):
        RunConfig.from_dict({"launch_strategy": "zero2_offload", "loraplus_lr_ratio": 16})
    with pytest.raises(ConfigError, match="optimizer: DeepSpeed's CPU offload"):
        RunConfig.from_dict({"launch_strategy": "zero3_offload", "optimizer": "adamw_8bit", "technique": "full"})
    RunConfig.from_dict({"launch_strategy": "zero3", "loraplus_lr_ratio": 16})


@pytest.mark.parametrize("gpus, nodes", [(1, 1), (8, 1), (8, 4)])
def test_full_finetune_model_states_equal_deepspeeds_estimators(gpus, nodes):
    pytest.importorskip("deepspeed")
    from deepspeed.runtime.zero.stage3 import estimate_zero3_model_states_mem_needs
    from deepspeed.runtime.zero.stage_1_and_2 import (
        estimate_zero2_model_states_mem_needs,
    )

    total, largest = 7_000_000_000, 131_072_000  # a 7B model with a 32000 x 4096 embedding
    for offload in (False, True):
        cpu, gpu = estimate_zero2_model_states_mem_needs(total, gpus, nodes, cpu_offload=offload)
        assert model_state_bytes(total, total, largest, stage=2, offload=offload, gpus_per_node=gpus,
                                 nodes=nodes) == (gpu, cpu)
        cpu, gpu, _ = estimate_zero3_model_states_mem_needs(total, largest, gpus, nodes, cpu_offload=offload,
                                                            cpu_offload_params=offload, zero_init=True)
        assert model_state_bytes(total, total, largest, stage=3, offload=offload, gpus_per_node=gpus,
                                 nodes=nodes) == (gpu, cpu)


def test_lora_under_zero3_keeps_only_two_bytes_per_frozen_weight():
    total, trainable, largest = 1_000_000_000, 10_000_000, 50_000_000
    gpu, _ = model_state_bytes(total, trainable, largest, stage=3, offload=False, gpus_per_node=4)
    assert gpu == 4 * largest + (18 * trainable + 2 * (total - trainable)) // 4
    full, _ = model_state_bytes(total, total, largest, stage=3, offload=False, gpus_per_node=4)
    assert gpu < full / 4


@pytest.mark.parametrize("stage, offload", [(2, False), (2, True), (3, False), (3, True)])
def test_the_breakdown_adds_up_to_the_estimate(stage, offload):
    s = zero_states(1_000_000_000, 10_000_000, 50_000_000, stage=stage, offload=offload, gpus_per_node=8)
    assert s.gpu == model_state_bytes(1_000_000_000, 10_000_000, 50_000_000, stage=stage, offload=offload,
                                      gpus_per_node=8)[0]
    assert min(s.weights, s.gradients, s.optimizer) >= 0 and (s.gradients + s.optimizer == 0) == offload
