from snap_helpers import SIZE, app_with, at


def test_technique_on_24gib_gpu(snap_compare, tmp_path):
    assert snap_compare(app_with(tmp_path, gpu_gib=24), terminal_size=SIZE, run_before=at("technique"))


def test_technique_override_that_does_not_fit(snap_compare, tmp_path):
    async def override(pilot):
        pilot.app.screen.choose(0)

    assert snap_compare(app_with(tmp_path, gpu_gib=24), terminal_size=SIZE,
                        run_before=at("technique", before=override))


def test_technique_with_rag_advice_on_cpu(snap_compare, tmp_path):
    from fakes import fake_recommend

    def with_rag(model, hw, seq, stats):
        return fake_recommend(model, hw, seq, {**stats, "rag": True})

    assert snap_compare(app_with(tmp_path, gpu_gib=None, recommend=with_rag), terminal_size=SIZE,
                        run_before=at("technique"))
