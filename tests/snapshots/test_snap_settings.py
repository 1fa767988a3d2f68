from snap_helpers import SIZE, app_with, at
from textual.widgets import Input


def test_settings_recommended_values(snap_compare, tmp_path):
    assert snap_compare(app_with(tmp_path), terminal_size=SIZE, run_before=at("settings"))


def test_settings_invalid_value_flagged_inline(snap_compare, tmp_path):
    async def bad(pilot):
        pilot.app.screen.query_one("#f-learning_rate", Input).value = "2"
        pilot.app.screen.query_one("#f-epochs", Input).value = "many"

    assert snap_compare(app_with(tmp_path), terminal_size=SIZE, run_before=at("settings", before=bad))
