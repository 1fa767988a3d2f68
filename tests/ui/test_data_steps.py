"""The Dataset and Clean steps with real data shapes: tools shown per row, data tuneui cannot train
refused by name, pages fetched beyond the preview, and large removals asked about."""

import json
from pathlib import Path

from fakes import make_engine, settle, wait_for, wizard
from textual.widgets import Button, DataTable, Static

SIZE = (110, 40)
REAL = Path(__file__).resolve().parents[1] / "data" / "real"
IMAGES = REAL / "multimodal" / "llamafactory-mllm-demo-image.json"


def text_of(app, selector: str) -> str:
    return str(app.screen.query_one(selector, Static).render())


async def load(pilot, path: Path) -> None:
    pilot.app.go_to("dataset")
    await settle(pilot)
    pilot.app.screen.load(path, "auto", {})
    await settle(pilot)


async def test_tool_rows_show_their_tools_and_calls(tmp_path):
    app = wizard(make_engine(tmp_path), first_run=False)
    async with app.run_test(size=SIZE) as pilot:
        await load(pilot, REAL / "tool-calling" / "llamafactory-glaive-func-call-sharegpt-tools.json")
        table = app.screen.query_one("#preview", DataTable)
        assert str(table.get_row_at(0)[3]).startswith("generate_pass")
        detail = text_of(app, "#row-detail")
        assert "tools offered (2)" in detail and "generate_password(length, include_symbols?)" in detail
        assert 'message 4: generate_password({"length": 12, "include_symbols": true})' in detail


async def test_preference_data_is_named_and_goes_on_to_dpo(tmp_path):
    app = wizard(make_engine(tmp_path), first_run=False)
    async with app.run_test(size=SIZE) as pilot:
        await load(pilot, REAL / "preference" / "torchtune-hh-rlhf-tiny-messages.json")
        assert "preference data (chosen/rejected pairs)" in text_of(app, "#detected")
        assert app.state.load_result is not None and app.state.load_result.kind == "preference"
        assert ("trained with DPO, ORPO or SimPO (preference tuning), chosen on the Technique step"
                in text_of(app, "#nav-status"))
        await pilot.press("ctrl+n")
        await settle(pilot)
        assert app.current_mode == "clean"  # DPO trains it (the Technique step offers it)


async def test_data_no_objective_trains_stops_the_step(tmp_path):
    app = wizard(make_engine(tmp_path), first_run=False)
    async with app.run_test(size=SIZE) as pilot:
        await load(pilot, IMAGES)
        assert app.state.load_result is not None and not app.state.load_result.objectives
        await pilot.press("ctrl+n")
        await settle(pilot)
        assert app.current_mode == "dataset" and "cannot train this file" in text_of(app, "#nav-status")


async def test_pages_beyond_the_preview_come_from_the_engine(tmp_path):
    rows = [{"messages": [{"role": "user", "content": f"Question {i}?"},
                          {"role": "assistant", "content": f"Answer {i}."}]} for i in range(230)]
    path = tmp_path / "big.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    app = wizard(make_engine(tmp_path), first_run=False)
    async with app.run_test(size=SIZE) as pilot:
        await load(pilot, path)
        result = app.state.load_result
        assert result.examples == 230 and len(result.preview) == 200 and not result.complete
        app.screen.page = 27  # examples 217-224: past the preview page
        app.screen._show_page()
        await settle(pilot)
        table = app.screen.query_one("#preview", DataTable)
        await wait_for(pilot, lambda: str(table.get_row_at(0)[0]) == "217")
        assert "Question 216?" in str(table.get_row_at(0)[4])


async def test_a_filter_removing_a_third_asks_first(tmp_path):
    rows = [{"messages": [{"role": "user", "content": f"Question {i}?"},
                          {"role": "assistant", "content": f"Answer {i}."}]} for i in range(9)]
    path = tmp_path / "short.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    app = wizard(make_engine(tmp_path), first_run=False)
    async with app.run_test(size=SIZE) as pilot:
        await load(pilot, path)
        app.state.config = app.state.config.updated(cleaning={**app.state.config.cleaning.to_dict(), "quality": True})
        app.go_to("clean")
        await wait_for(pilot, lambda: app.state.clean_result is not None)
        await settle(pilot)
        box = app.screen.query_one("#confirm-box")
        assert box.display and "quality would remove 9 of 9 examples" in text_of(app, "#confirm-text")
        await pilot.press("ctrl+n")
        await settle(pilot)
        assert app.current_mode == "clean" and "remove them or keep them" in text_of(app, "#nav-status")
        app.screen.query_one("#undo-large", Button).press()
        await wait_for(pilot, lambda: app.state.config.cleaning.quality is False and not box.display)
        await settle(pilot)
        assert app.state.clean_result is not None and app.state.clean_result.kept_count == 9


async def test_one_key_reaches_the_filter_table(tmp_path):
    """Issue 16, item 8: the table of what each filter removed took ten Tabs to reach."""
    app = wizard(make_engine(tmp_path), demo=True, first_run=False)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        for _ in ("model", "dataset", "clean"):
            await pilot.press("ctrl+n")
            await settle(pilot)
        assert app.current_mode == "clean"
        await wait_for(pilot, lambda: app.state.clean_result is not None)
        await settle(pilot)
        assert app.focused is not app.screen.query_one("#filters", DataTable)
        await pilot.press("ctrl+f")
        await pilot.pause()
        assert app.focused is app.screen.query_one("#filters", DataTable)
        await pilot.press("down")  # and it is the table's keys that move now
        await pilot.pause()
        assert app.focused is app.screen.query_one("#filters", DataTable)
