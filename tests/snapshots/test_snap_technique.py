"""The Technique step with the real recommender: Llama-2-7B's shape on a 24 GiB GPU (where the choice
matters), an override that cannot fit, and the tiny demo model on a CPU with a 24-example dataset
(which the recommender answers with RAG advice)."""

from fakes import llama_7b
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
