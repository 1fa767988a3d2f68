"""The whole offline demo path through the real engine, ending in a real (short) training run.

Only the hardware probe is fixed (so the test plans for a 24 GiB GPU, then for this CPU); the model,
data loading, cleaning, token statistics, recommendation and the training process are all real.
"""

import pytest
from fakes import fixed_hardware, settle, wait_for
from textual.widgets import Input, Static

from tuneui.contract.hardware import HardwareProfile
from tuneui.engine import LocalEngine
from tuneui.screens.app import TuneApp


class GpuBox(LocalEngine):
    """The real engine, planning for a 24 GiB GPU first."""

    def probe_hardware(self) -> HardwareProfile:
        return fixed_hardware(24)


@pytest.mark.slow
@pytest.mark.timeout(1200)
async def test_offline_demo_path_to_a_finished_run(tmp_path, real_demo_model_dir):
    app = TuneApp(GpuBox(), demo=True, first_run=False, poll_interval=0.1)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        await pilot.press("ctrl+n")  # Welcome -> Model (the demo model is preselected)
        await settle(pilot)
        assert app.state.model_info is not None and app.state.model_info.name == "demo"
        await pilot.press("ctrl+n")  # -> Dataset: the bundled sample loads by itself
        await settle(pilot)
        assert app.state.load_result.examples > 100
        await pilot.press("ctrl+n")  # -> Clean
        await settle(pilot, timeout=180)
        assert app.state.clean_result is not None and app.state.token_insight is not None
        segments = app.state.token_insight.preview.segments
        assert {s["trained"] for s in segments} == {True, False}  # masked prompt and trained answer
        await pilot.press("ctrl+n")  # -> Technique, planned for the (faked) 24 GiB GPU
        await settle(pilot, timeout=120)
        gpu_rec = app.state.recommendation
        assert gpu_rec.fits and "24.0 GiB" in str(app.screen.query_one("#hw-line", Static).render())
        app.screen.query_one("#whatif", Input).value = "cpu"  # ... and for this machine's CPU
        await pilot.click("#whatif-apply")
        await wait_for(pilot, lambda: app.state.recommendation is not None and app.state.hardware_spec == "cpu",
                       timeout=120)
        assert app.state.recommendation.fits
        assert app.state.config.precision in ("auto", "fp32", "bf16")
        await pilot.press("ctrl+n")  # -> Settings
        await settle(pilot)
        form = app.screen
                # The demo model is a real 135M-parameter model: a 2% validation split (20 conversations)
        # keeps each evaluation's loss pass short.
        for field, value in {"name": "e2e", "max_steps": "4", "micro_batch_size": "4", "max_seq_length": "64",
                             "eval_steps": "2", "save_steps": "0", "logging_steps": "1",
                             "eval_max_examples": "4", "val_fraction": "0.02"}.items():
            form.query_one(f"#f-{field}", Input).value = value
        await pilot.pause()
        app.state.config.eval_max_new_tokens = 8  # not on the form: the task-metric generation length
        assert app.state.config.max_steps == 4 and app.state.config.micro_batch_size == 4
        await pilot.press("ctrl+n")  # Start training: a real subprocess
        await settle(pilot)
        train = app.screen
        # About 4.5 minutes at load average 4.6 on 2 cores (base and tuned evaluations included).
        await wait_for(pilot, lambda: train.progress.done, timeout=720)
        assert train.progress.status == "finished", train.progress.final
        assert len(train.progress.loss) >= 3
        assert train.progress.eval_loss
        assert (app.state.run_dir / "run.toml").exists()
