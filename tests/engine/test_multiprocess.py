"""Data-parallel training under a standard launcher (torchrun, gloo on CPU), and launch plans."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

import pytest
import yaml

from tests.engine.runs import last_session, step_losses, tiny_config
from tuneui.contract.events import read_events
from tuneui.training import checkpoints


def _torchrun(*args, timeout=600):
    torchrun = shutil.which("torchrun")
    cmd = [torchrun] if torchrun else [sys.executable, "-m", "torch.distributed.run"]
    return subprocess.run([*cmd, "--nproc_per_node", "2", "-m", "tuneui.training", *map(str, args)],
                          capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, "OMP_NUM_THREADS": "1"})


def test_two_processes_train_and_resume_with_only_rank0_writing(tmp_path):
    cfg = tiny_config(tmp_path / "d", max_steps=4, save_steps=2)
    toml = cfg.save(tmp_path / "run.toml")
    run = tmp_path / "run"
    done = _torchrun(toml, "-o", run)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-3000:]
    events = read_events(run)
    steps = [e.step for e in events if e.type == "step"]
    assert steps == [1, 2, 3, 4]  # one writer: no step reported twice
    assert sum(e.type == "started" for e in events) == 1
    # 48 examples over 2 processes x micro-batch 4 x accumulation 2: 3 optimizer steps per epoch.
    assert [e.epoch for e in events if e.type == "step"][:3] == pytest.approx([1 / 3, 2 / 3, 1.0], abs=1e-3)
    ckpt = checkpoints.newest_complete(run)
    assert ckpt.step == 4 and {"rng_state_0.pth", "rng_state_1.pth"} <= {p.name for p in ckpt.path.iterdir()}

    resumed = _torchrun(run, "--resume", "--set", "max_steps=6")
    assert resumed.returncode == 0, resumed.stdout[-2000:] + resumed.stderr[-3000:]
    session = last_session(read_events(run))
    assert session[0].resumed_from.endswith("step-4")
    assert sorted(step_losses(session)) == [5, 6]
    assert session[-1].type == "finished"


def test_print_launch_gives_a_valid_accelerate_config_and_slurm_script(run_cli, tmp_path):
    toml = tiny_config(tmp_path / "d").save(tmp_path / "run.toml")
    out = run_cli("train", toml, "--print-launch", "--gpus", "4", "--nodes", "2")
    assert out.returncode == 0, out.stderr
    text = out.stdout
    yaml_part = text.split("# 2. on one machine:")[0]
    cfg = yaml.safe_load("\n".join(line for line in yaml_part.splitlines() if not line.startswith("#")))
    assert cfg["distributed_type"] == "FSDP" and cfg["num_processes"] == 8 and cfg["num_machines"] == 2
    assert cfg["fsdp_config"]["fsdp_transformer_layer_cls_to_wrap"] == "LlamaDecoderLayer"
    from accelerate.commands.config.config_args import ClusterConfig

    config_file = tmp_path / "acc.yaml"
    config_file.write_text(yaml.safe_dump(cfg))
    assert ClusterConfig.from_yaml_file(str(config_file)).distributed_type == "FSDP"
    assert f"accelerate launch --config_file accelerate_t.yaml -m tuneui.training {toml}" in text
    assert "#SBATCH --nodes=2" in text and "#SBATCH --gpus-per-node=4" in text and "srun" in text
