"""The Technique step shows each estimate once, from one computation, with its unit; on a machine
without a GPU it speaks of memory, not "per GPU" (issue 16, item 5)."""

from __future__ import annotations

from fakes import llama_7b, make_engine, settle, wait_for, wizard
from textual.widgets import DataTable, Static

from tuneui.contract.recommend import DatasetStats
from tuneui.screens.views import fmt_bytes, fmt_duration

SIZE = (100, 30)


def _texts(screen) -> str:
    return "\n".join(str(screen.query_one(sel, Static).render()) for sel in ("#recommendation", "#table-note"))


async def _at_technique(app, pilot):
    app.go_to("technique")
    await wait_for(pilot, lambda: app.state.recommendation is not None and app.screen.query_one(
        "#alternatives", DataTable).row_count > 0)
    await settle(pilot)


async def test_the_recommended_row_is_the_recommendations_own_estimate_shown_once(tmp_path):
    app = wizard(make_engine(tmp_path, gpu_gib=24, inspect_model=llama_7b), demo=True, first_run=False)
    async with app.run_test(size=SIZE) as pilot:
        await _at_technique(app, pilot)
        rec, screen = app.state.recommendation, app.screen
        table = screen.query_one("#alternatives", DataTable)
        best = next(i for i, r in enumerate(screen._alts) if r.alternative.recommended)
        cells = [str(c) for c in table.get_row_at(best)]
        assert cells[1] == fmt_bytes(rec.estimate.peak_bytes)  # at the recommended micro-batch, not at 1
        alt = screen._alts[best].alternative
        secs = alt.seconds_per_epoch
        assert cells[4] == (fmt_duration(secs * app.state.config.epochs) if secs else "–")
        text = _texts(screen)
        # The reasons no longer repeat the memory and time: the table holds them.
        assert "estimated peak" not in text and "per epoch" not in text and "Time:" not in text
        assert f"at micro-batch {rec.micro_batch_size}" in text and "per GPU" in text
        assert any(r.startswith("Memory:") for r in rec.reasons)  # the CLI still says it, in one sentence


async def test_a_cpu_only_machine_is_told_memory_not_per_gpu(tmp_path):
    app = wizard(make_engine(tmp_path, gpu_gib=None), demo=True, first_run=False)
    # Measured data: the time model needs the token count to say how long an epoch takes.
    app.state.dataset_stats = lambda: DatasetStats(num_examples=400, tokens={"mean": 120.0, "total": 48000.0})
    async with app.run_test(size=SIZE) as pilot:
        await _at_technique(app, pilot)
        text = _texts(app.screen)
        assert "per GPU" not in text
        assert "peak memory (RAM)" in text
        screen = app.screen
        best = next(i for i, r in enumerate(screen._alts) if r.alternative.recommended)
        secs = screen._alts[best].alternative.seconds_per_epoch
        assert secs
        time_cell = str(screen.query_one("#alternatives", DataTable).get_row_at(best)[4])
        assert time_cell == fmt_duration(secs * app.state.config.epochs)
        assert "per epoch" not in text and "Time:" not in text
