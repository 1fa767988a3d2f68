"""Evaluate screen: the base-vs-tuned report with the forgetting verdict, the Compare tab with
overlaid loss curves, re-evaluation, and a run without a report."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))  # works whether or not tests/ is a package
from fakes import settle  # noqa: E402
from loop_fakes import REPORT, RUN, SIZE, loop_app  # noqa: E402
from textual.widgets import DataTable, Static, TabbedContent  # noqa: E402

from tuneui.contract.evaluation import EvaluationReport  # noqa: E402
from tuneui.contract.evaluation import report_rows as metric_rows
from tuneui.screens.app import TuneApp  # noqa: E402
from tuneui.screens.evaluate import EvaluateScreen, headline  # noqa: E402


def eval_app(tmp_path, **kwargs) -> TuneApp:
    return loop_app(tmp_path, **kwargs)


def opened(tab: str | None = None):
    async def run_before(pilot):
        await settle(pilot)
        pilot.app.push_screen(EvaluateScreen(RUN))
        await settle(pilot)
        if tab:
            pilot.app.screen.query_one(TabbedContent).active = tab
            await settle(pilot)
        pilot.app.screen.set_focus(None)
        await pilot.pause()

    return run_before


def test_snapshot_report_with_forgetting_verdict(tmp_path, snap_compare):
    assert snap_compare(eval_app(tmp_path), terminal_size=SIZE, run_before=opened())


def test_snapshot_compare_runs_with_curves(tmp_path, snap_compare):
    assert snap_compare(eval_app(tmp_path), terminal_size=SIZE, run_before=opened("tab-compare"))


def test_rows_and_headline_read_the_report():
    rows = metric_rows(REPORT)
    assert rows[0] == ("exact_match (n=200)", "0.0%", "62.0%")
    assert ("general-text perplexity", "1028.500", "1133.900") in rows
    assert "beats the base" in headline(REPORT)
    assert "worse" in headline(EvaluationReport.from_dict({"task_metric": {"name": "exact_match", "base": 0.5,
                                                                            "tuned": 0.2}}))


async def test_no_report_then_reevaluate_fills_it(tmp_path):
    calls = []

    def evaluate(run_dir):
        calls.append(run_dir)
        return REPORT

    app = eval_app(tmp_path, report=None, evaluate_run=evaluate)
    async with app.run_test(size=SIZE) as pilot:
        await opened()(pilot)
        assert "No report yet" in str(app.screen.query_one("#eval-headline", Static).render())
        assert app.screen.query_one("#eval-metrics", DataTable).row_count == 0
        await pilot.press("ctrl+r")
        await settle(pilot)
        assert calls == [RUN]
        assert app.screen.query_one("#eval-metrics", DataTable).row_count == len(metric_rows(REPORT))
        assert "mild forgetting" in str(app.screen.query_one("#eval-verdict", Static).render())
        assert app.screen.query_one("#eval-examples", DataTable).row_count == 2
        await pilot.press("escape")
        await pilot.pause()
        assert not isinstance(app.screen, EvaluateScreen)


async def test_a_failed_evaluation_is_shown(tmp_path):
    from tuneui.contract.errors import TuneuiError

    def evaluate(run_dir):
        raise TuneuiError("no data/val.parquet")

    app = eval_app(tmp_path, evaluate_run=evaluate)
    async with app.run_test(size=SIZE) as pilot:
        await opened()(pilot)
        await pilot.press("ctrl+r")
        await settle(pilot)
        assert "no data/val.parquet" in str(app.screen.query_one("#eval-status", Static).render())
        assert not app.screen.query_one("#reevaluate").disabled
