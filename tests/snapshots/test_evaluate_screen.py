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


# A DPO run's report as the runner writes it: no task metric, the preference accuracy, and the forgetting probe.
PREFERENCE_REPORT = EvaluationReport.from_dict({
    "objective": "dpo",
    "preference": {"base": {"pairs": 64, "accuracy": 0.796875, "mean_logp_margin": 4.633},
                   "tuned": {"pairs": 64, "accuracy": 1.0, "mean_logp_margin": 78.419}},
    "forgetting": {"base_perplexity": 1069.5, "tuned_perplexity": 1090.2, "ratio": 1.019, "level": "none",
                   "verdict": "no sign of forgetting: general text is predicted as well as before (general-text "
                              "perplexity 1069.5 -> 1090.2, 1.02x)"},
})


def test_snapshot_preference_report_with_forgetting_verdict(tmp_path, snap_compare):
    assert snap_compare(eval_app(tmp_path, report=PREFERENCE_REPORT), terminal_size=SIZE, run_before=opened())


def test_a_preference_report_shows_its_accuracy_and_the_probe_not_empty_sft_rows():
    """A DPO run's Evaluate screen said "No task metric" over rows of n/a (exact match, validation loss)."""
    assert metric_rows(PREFERENCE_REPORT) == [
        ("preference accuracy (n=64 pairs)", "79.7%", "100.0%"),
        ("log-probability margin, chosen - rejected", "4.633", "78.419"),
        ("general-text perplexity", "1069.500", "1090.200")]
    assert headline(PREFERENCE_REPORT) == (
        "[green]The tuned model prefers the better replies more than the base[/green] on 64 held-out pairs "
        "(chosen reply more likely than rejected): 79.7% → 100.0%.")
    kto = EvaluationReport.from_dict({"objective": "kto", "preference": {
        "base": {"desirable": 5, "undesirable": 4, "desirable_mean_logp": -20.5, "undesirable_mean_logp": -19.0},
        "tuned": {"desirable": 5, "undesirable": 4, "desirable_mean_logp": -12.25, "undesirable_mean_logp": -31.0}}})
    assert metric_rows(kto) == [("mean log-probability, desirable replies (n=5)", "-20.500", "-12.250"),
                                ("mean log-probability, undesirable replies (n=4)", "-19.000", "-31.000")]
    assert headline(kto).startswith("[green]The tuned model prefers the better replies more")
    assert "-1.50 → 18.75" in headline(kto)
    worse = EvaluationReport.from_dict({"preference": {"base": {"pairs": 8, "accuracy": 0.5},
                                                       "tuned": {"pairs": 8, "accuracy": 0.25}}})
    assert headline(worse).startswith("[red]") and "No preference figures" in headline(
        EvaluationReport.from_dict({"preference": {"tuned": {"pairs": 8, "accuracy": 0.25}}}))
