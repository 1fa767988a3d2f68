"""Small words a first-time user stumbled on (issue 16, item 8): the doctor's verdict before its notes,
no 'GGUF not written' when GGUF was not asked for, no 'about 0 s' time estimates, no 'per GPU' on a
machine without one."""

from __future__ import annotations

import argparse
import re

from tuneui.commands import doctor
from tuneui.contract.environment import Check
from tuneui.recommend.advice import _duration


def _doctor(*argv: str) -> int:
    parser = argparse.ArgumentParser(prog="tuneui")
    doctor.register(parser.add_subparsers())
    args = parser.parse_args(["doctor", *argv])
    return args.func(args)


def test_doctor_says_its_verdict_before_the_notes_it_refers_to(monkeypatch, capsys):
    from tuneui import envcheck

    checks = [Check("torch", "PyTorch", "ok", "2.x"),
              Check("gpu", "GPU", "warn", "no CUDA GPU: training runs on the CPU (slow)", None)]
    monkeypatch.setattr(envcheck, "check_environment", lambda: checks)
    assert _doctor() == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "Ready, with notes below."
    assert lines[2].startswith("note") and "no CUDA GPU" in lines[2]

    checks.append(Check("bnb", "bitsandbytes", "missing", "not installed", "pip install bitsandbytes"))
    assert _doctor() == 1
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("Missing: bitsandbytes.") and "below" in lines[0]
    assert lines[-1] == "        fix: pip install bitsandbytes"


def test_time_estimates_never_round_to_zero():
    assert _duration(0.43) == "0.43 s" and _duration(3.14) == "3.1 s" and _duration(0.001) == "under 0.01 s"
    assert _duration(42) == "42 s" and _duration(600) == "10 min"


def test_recommend_for_the_tiny_model_on_a_gpu_gives_a_nonzero_time(run_cli):
    out = run_cli("recommend", "--model", "demo-tiny", "--gpus", "1x24GiB")
    assert out.returncode == 0, out.stderr
    time_line = next(ln for ln in out.stdout.splitlines() if "per million training tokens" in ln)
    assert "about 0 s" not in time_line and re.search(r"about (0\.\d+|[1-9][\d.]*) s", time_line), time_line
    assert "peak GiB per GPU" in out.stdout


def test_recommend_on_a_cpu_only_machine_says_memory_not_per_gpu(run_cli):
    out = run_cli("recommend", "--model", "demo-tiny", "--gpus", "cpu")
    assert out.returncode == 0, out.stderr
    assert "per GPU" not in out.stdout and "peak GiB of memory" in out.stdout


def test_export_without_gguf_gives_a_tip_not_a_missing_file(tmp_path, capsys):
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).parent))
    from loop_fixtures import build_tiny_run

    from tuneui.cli import main

    assert main(["export", str(build_tiny_run("lora")), "-o", str(tmp_path / "out")]) == 0
    out = capsys.readouterr().out
    assert "GGUF not written" not in out
    assert "tip: add --gguf" in out
