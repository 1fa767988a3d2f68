from snap_helpers import SIZE, app_with, at
from textual.widgets import Input

from tuneui.contract.errors import ModelError


def test_model_demo(snap_compare, tmp_path):
    assert snap_compare(app_with(tmp_path), terminal_size=SIZE, run_before=at("model"))


def test_model_hub_offline_error(snap_compare, tmp_path):
    def offline(model):
        if model == "demo":
            from tuneui.models import inspect_model

            return inspect_model("demo")
        raise ModelError(f"{model}: not in the local hub cache and the hub cannot be reached (offline)")

    async def pick_hub(pilot):
        pilot.app.screen.query_one("#src-hub").value = True
        await pilot.pause()
        pilot.app.screen.query_one("#model-path", Input).value = "Qwen/Qwen2.5-0.5B-Instruct"
        await pilot.click("#inspect")

    assert snap_compare(app_with(tmp_path, inspect_model=offline), terminal_size=SIZE,
                        run_before=at("model", before=pick_hub))
