"""SIGINT/SIGTERM are honoured in every phase, not only between optimizer steps: a real training
process signalled during setup and during the base model's evaluation (after training, once the adapter
is saved) ends as `stopped` (exit 130) within seconds. The bound here is generous (a shared CI machine); benchmarks/signal_latency.py
measures the real figures per phase."""

from __future__ import annotations

import json
import signal
import time

import pytest

from tests.engine.runs import start, tiny_config
from tuneui.contract import runlock
from tuneui.contract.events import read_events

BOUND_S = 10.0


def _wait_for_phase(run_dir, proc, phases, timeout=300.0) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        owner = runlock.holder(run_dir)
        if owner is not None and owner.phase.startswith(phases):  # "base evaluation: 3/8 prompts answered"
            return owner.phase
        assert proc.poll() is None, proc.stdout.read()[-3000:]
        time.sleep(0.02)
    raise AssertionError(f"the run never reached {phases}")


@pytest.mark.parametrize("sig, phases, setup", [
    (signal.SIGINT, ("setup",), {}),
    (signal.SIGTERM, ("base evaluation",), {"eval_max_examples": 8, "eval_max_new_tokens": 400}),
], ids=["SIGINT-during-setup", "SIGTERM-during-base-evaluation"])
def test_signal_is_honoured_at_once(tmp_path, sig, phases, setup):
    run = tmp_path / "run"
    proc = start(tiny_config(tmp_path / "d", **setup), run)
    try:
        phase = _wait_for_phase(run, proc, phases)
        if phase.startswith("base evaluation"):
            time.sleep(0.5)  # well inside the evaluation, not at its first instruction
        sent = time.monotonic()
        proc.send_signal(sig)
        code = proc.wait(timeout=120)
        took = time.monotonic() - sent
    finally:
        if proc.poll() is None:
            proc.kill()
    print(f"{signal.Signals(sig).name} during {phase}: exited after {took:.2f}s")
    assert code == 130
    last = read_events(run)[-1]
    assert last.type == "stopped" and f"{signal.Signals(sig).name} during {phases[0]}" in last.reason
    assert "--resume" in last.advice
    assert runlock.holder(run) is None
    assert took < BOUND_S
    if phases == ("base evaluation",):  # training was over: what it made is kept, what was not measured is said
        assert (run / "adapter" / "adapter_model.safetensors").exists()
        report = json.loads((run / "report.json").read_text())
        assert report["base_measured"] is False and report["eval_loss"]["base"] is None
        assert report["eval_loss"]["tuned"] is not None
        assert any(e.type == "warning" and "base model was not measured" in e.reason for e in read_events(run))
