from snap_helpers import SIZE, app_with, at


def test_help_panel(snap_compare, tmp_path):
    async def open_help(pilot):
        await pilot.press("f1")

    assert snap_compare(app_with(tmp_path), terminal_size=SIZE, run_before=at("technique", before=open_help))


def test_light_theme(snap_compare, tmp_path):
    async def light(pilot):
        await pilot.press("ctrl+t")

    assert snap_compare(app_with(tmp_path), terminal_size=SIZE, run_before=at("dataset", before=light))
