from snap_helpers import SIZE, app_with, at


def test_clean_report_histogram_and_example(snap_compare, tmp_path):
    async def run_before(pilot):
        from fakes import settle

        await settle(pilot)
        pilot.app.go_to("dataset")
        await settle(pilot)
        pilot.app.go_to("clean")
        await settle(pilot)
        pilot.app.screen.set_focus(None)
        await pilot.pause()

    assert snap_compare(app_with(tmp_path), terminal_size=(100, 60), run_before=run_before)


def test_clean_without_data(snap_compare, tmp_path):
    assert snap_compare(app_with(tmp_path, demo=False), terminal_size=SIZE, run_before=at("clean"))
