from snap_helpers import SIZE, app_with, at
from textual.widgets import Input


def test_settings_recommended_values(snap_compare, tmp_path):
    assert snap_compare(app_with(tmp_path), terminal_size=SIZE, run_before=at("settings"))


def test_settings_invalid_value_flagged_inline(snap_compare, tmp_path):
    async def bad(pilot):
        pilot.app.screen.query_one("#f-learning_rate", Input).value = "2"
        pilot.app.screen.query_one("#f-epochs", Input).value = "many"

    assert snap_compare(app_with(tmp_path), terminal_size=SIZE, run_before=at("settings", before=bad))


def test_settings_simpo_margin(snap_compare, tmp_path):
    """A SimPO run on the demo's pairs: beta's SimPO meaning and the margin (simpo_gamma), no DPO loss."""
    from snap_helpers import choose_objective, sample_pairs

    async def simpo(pilot):
        await sample_pairs(pilot)
        await choose_objective("simpo", then="settings")(pilot)
        screen = pilot.app.screen
        screen.query_one("#body").scroll_to_widget(screen.query_one("#row-pref_beta"), animate=False, top=True)

    assert snap_compare(app_with(tmp_path), terminal_size=SIZE, run_before=at("dataset", before=simpo))
