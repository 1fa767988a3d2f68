"""Next pressed as soon as it is enabled must give the run the same config as a patient walk through
the steps (issue 16, item 2): a token measurement that lands after Technique was planned must still
size the sequence length."""

from __future__ import annotations

import threading

from fakes import make_engine, settle, wait_for, wizard
from textual.widgets import Input

SIZE = (100, 30)
STEPS = ("model", "dataset", "clean", "technique", "settings")


class SlowTokens:
    """The engine's tokenizer measurement held until the test lets it finish (a real tokenizer takes
    seconds on a large dataset)."""

    def __init__(self, engine):
        self.gate = threading.Event()
        self.inner = engine.token_insight
        engine.token_insight = self

    def __call__(self, examples, config):
        self.gate.wait(30)
        return self.inner(examples, config)


async def _patient(tmp_path):
    app = wizard(make_engine(tmp_path), demo=True, first_run=False)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        for step in STEPS:
            await pilot.press("ctrl+n")
            await settle(pilot)
            assert app.current_mode == step
        return app.state.config


async def test_next_as_soon_as_enabled_gives_the_same_config_as_the_patient_path(tmp_path):
    (tmp_path / "patient").mkdir()
    (tmp_path / "impatient").mkdir()
    patient = await _patient(tmp_path / "patient")
    assert patient.max_seq_length != 1024  # sized from the data, not the default

    engine = make_engine(tmp_path / "impatient")
    slow = SlowTokens(engine)
    app = wizard(engine, demo=True, first_run=False)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        for step in STEPS:
            await pilot.press("ctrl+n")
            # Next again the moment the step lets it: no waiting for its background work.
            await wait_for(pilot, lambda s=step: app.current_mode == s and app.screen.validate_step() is None)
            if step == "technique":
                slow.gate.set()  # the measurement lands while Technique is already planned
        await settle(pilot)
        assert app.current_mode == "settings"
        impatient = app.state.config
        shown = app.screen.query_one("#f-max_seq_length", Input).value
        assert shown == str(patient.max_seq_length)  # Settings shows the new plan, not the stale 1024
    assert impatient.max_seq_length == patient.max_seq_length
    assert impatient.model_dump(exclude={"dataset"}) == patient.model_dump(exclude={"dataset"})
