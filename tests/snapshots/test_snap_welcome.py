from pathlib import Path

from snap_helpers import SIZE, app_with, at

from tuneui.contract.errors import TuneuiError
from tuneui.contract.runs import RunSummary

RUNS = [
    RunSummary(name="support-bot", run_dir=Path("runs/support-bot"), status="running", technique="qlora",
               started=1_789_999_100.0, last_loss=1.234, step=120),
    RunSummary(name="demo", run_dir=Path("runs/demo"), status="finished", technique="lora",
               started=1_789_990_000.0, last_loss=0.61, step=450),
    RunSummary(name="too-big", run_dir=Path("runs/too-big"), status="failed", technique="full",
               started=1_789_000_000.0, last_loss=float("nan"), step=3),
]


def test_welcome_with_gpu_and_runs(snap_compare, tmp_path):
    assert snap_compare(app_with(tmp_path, runs=RUNS), terminal_size=SIZE, run_before=at("welcome"))


def test_welcome_cpu_only_no_runs_80x24(snap_compare, tmp_path):
    assert snap_compare(app_with(tmp_path, gpu_gib=None), terminal_size=(80, 24), run_before=at("welcome"))


def test_welcome_probe_error(snap_compare, tmp_path):
    def broken():
        raise TuneuiError("nvidia-smi timed out after 5 s")

    assert snap_compare(app_with(tmp_path, probe_hardware=broken), terminal_size=SIZE, run_before=at("welcome"))
