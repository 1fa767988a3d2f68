"""The Technique step with the real recommender: Llama-2-7B's shape on a 24 GiB GPU (where the choice
matters), an override that cannot fit, and the tiny demo model on a CPU with a 24-example dataset
(which the recommender answers with RAG advice)."""

from fakes import llama_7b, settle
from snap_helpers import SIZE, app_with, at


def test_technique_on_24gib_gpu(snap_compare, tmp_path):
    assert snap_compare(app_with(tmp_path, gpu_gib=24, inspect_model=llama_7b), terminal_size=SIZE,
                        run_before=at("technique"))


def test_technique_override_that_does_not_fit(snap_compare, tmp_path):
    async def override(pilot):
        screen = pilot.app.screen
        screen.choose(next(i for i, row in enumerate(screen._alts) if row.alternative.setup.technique == "full"
                           and row.alternative.available and not row.alternative.fits))

    assert snap_compare(app_with(tmp_path, gpu_gib=24, inspect_model=llama_7b), terminal_size=SIZE,
                        run_before=at("technique", before=override))


def test_technique_with_rag_advice_on_cpu(snap_compare, tmp_path):
    assert snap_compare(app_with(tmp_path, gpu_gib=None), terminal_size=SIZE, run_before=at("technique"))


def test_technique_with_preference_pairs(snap_compare, tmp_path):
    """Real preference pairs (LLaMA-Factory's DPO sample): DPO is offered, SFT is not and why, and a
    finished SFT run on the same model is there to start from."""
    from pathlib import Path

    from textual.widgets import Input

    from tuneui.contract.config import RunConfig
    from tuneui.contract.presets import demo_config
    from tuneui.contract.runs import RunSummary

    pairs = Path(__file__).parents[1] / "data" / "real" / "preference" / "llamafactory-v1-dpo-content-parts-value.jsonl"
    run_dir = tmp_path / "runs" / "sft-first"
    run_dir.mkdir(parents=True)
    RunConfig(name="sft-first", model=demo_config().model).save(run_dir / "run.toml")
    sft = RunSummary("sft-first", run_dir, "finished", "lora", None, 0.5, 10)

    async def load_pairs(pilot):
        pilot.app.go_to("dataset")
        await settle(pilot)
        box = pilot.app.screen.query_one("#data-path", Input)
        box.value = str(pairs)
        box.focus()
        await pilot.press("enter")
        await settle(pilot)
        pilot.app.go_to("technique")

    assert snap_compare(app_with(tmp_path, gpu_gib=None, runs=[sft]), terminal_size=SIZE,
                        run_before=at("welcome", before=load_pairs))


def test_technique_sft_data_points_to_the_sample_pairs(snap_compare, tmp_path):
    """The demo's SFT sample: SFT only, why, and where to find data to try preference tuning on."""
    assert snap_compare(app_with(tmp_path, gpu_gib=None), terminal_size=SIZE,
                        run_before=at("dataset", before=lambda pilot: _go(pilot, "technique")))


def test_technique_sample_pairs_simpo(snap_compare, tmp_path):
    """The demo's preference pairs with SimPO chosen: no reference model, in plain words."""
    from snap_helpers import choose_objective, sample_pairs

    async def pairs_then_simpo(pilot):
        await sample_pairs(pilot)
        await choose_objective("simpo")(pilot)

    assert snap_compare(app_with(tmp_path, gpu_gib=None), terminal_size=SIZE,
                        run_before=at("dataset", before=pairs_then_simpo))


async def _go(pilot, step: str) -> None:
    await settle(pilot)
    pilot.app.go_to(step)
    await settle(pilot)
