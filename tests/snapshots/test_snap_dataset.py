from fakes import write_dataset
from snap_helpers import SIZE, app_with, at
from textual.widgets import Input


def test_dataset_empty(snap_compare, tmp_path):
    assert snap_compare(app_with(tmp_path, demo=False), terminal_size=SIZE, run_before=at("dataset"))


def test_dataset_loaded_with_problems(snap_compare, tmp_path):
    write_dataset(tmp_path / "mine.jsonl", n=30, bad_line=True)

    async def load(pilot):
        pilot.app.screen.load(__import__("pathlib").Path("mine.jsonl"), "auto", {})

    assert snap_compare(app_with(tmp_path, demo=False), terminal_size=SIZE, run_before=at("dataset", before=load))


def test_dataset_unreadable_file(snap_compare, tmp_path):
    async def load(pilot):
        box = pilot.app.screen.query_one("#data-path", Input)
        box.value = "missing.jsonl"
        box.focus()
        await pilot.press("enter")

    assert snap_compare(app_with(tmp_path, demo=False), terminal_size=SIZE, run_before=at("dataset", before=load))


def test_dataset_sample_pairs(snap_compare, tmp_path):
    """The demo's preference pairs from 'Sample pairs': what kind of data, that DPO, ORPO or SimPO trains
    it, and a pair's rejected reply under the preview."""
    from snap_helpers import sample_pairs

    assert snap_compare(app_with(tmp_path), terminal_size=SIZE, run_before=at("dataset", before=sample_pairs))
