"""The preference alerts over validation histories: sequences measured on the tiny demo model (a LoRA DPO run at a
large learning rate, where the chosen replies fell), a healthy run's shape, and the edges of each limit."""

from __future__ import annotations

from tuneui.training.preference_watch import (
    LIMITS,
    Limits,
    PreferenceWatch,
    PrefPoint,
    chosen_falling,
    reward_hacking,
)

# Measured: demo-tiny, llamafactory pairs, lora r=8, lr 5e-3, beta 0.1, eval_steps 1 (tests/engine/
# test_preference_live.py runs it). Per evaluation: validation accuracy, chosen / rejected logp, drift, and the
# training margin of the step logged before it.
FALLING = [
    PrefPoint(1, 0.0, None, -21.149, -21.035, -0.388),
    PrefPoint(2, 0.0, 0.0, -21.647, -21.188, -0.887),
    PrefPoint(3, 0.0, 2.058, -21.881, -21.447, -1.120),
    PrefPoint(4, 0.0, 3.840, -21.993, -21.583, -1.233),
    PrefPoint(5, 0.0, 4.385, -22.041, -21.622, -1.281),
]
# Measured the same way at lr 2e-2: the log-probabilities jump around, they do not fall steadily.
ERRATIC = [
    PrefPoint(1, 0.0, None, -21.045, -21.240, -0.284),
    PrefPoint(2, 1.0, 0.0, -20.751, -21.693, 0.010),
    PrefPoint(3, 0.0, 1.976, -22.565, -20.789, -1.805),
    PrefPoint(4, 0.0, 2.528, -22.126, -21.683, -1.366),
    PrefPoint(5, 0.0, 1.880, -21.800, -21.660, -1.039),
]
# A healthy run: held-out accuracy climbs with the margin, the chosen replies become more likely.
HEALTHY = [
    PrefPoint(50, 0.55, 0.2, -48.0, -52.0, 0.1),
    PrefPoint(100, 0.62, 0.6, -47.5, -53.5, 0.6),
    PrefPoint(150, 0.68, 1.1, -47.2, -55.0, 0.9),
    PrefPoint(200, 0.71, 1.5, -47.0, -56.1, 1.1),
]


def test_the_measured_large_learning_rate_run_raises_both_alerts():
    assert chosen_falling(FALLING[:3]) is None  # three evaluations: no trend of three steps yet
    reason = chosen_falling(FALLING[:4])
    assert reason is not None and "-21.1 -> -22.0" in reason and "1.2 nats below the reference" in reason
    assert "rejected replies fell too" in reason and "faster" not in reason  # they fell 0.5, the chosen 0.8
    # The training margin is known from the second evaluation on: four points with a margin are needed.
    assert reward_hacking(FALLING[:4]) is None
    hacking = reward_hacking(FALLING)
    assert hacking is not None and "0.00 -> 4.38" in hacking and "stalled (0% -> 0%)" in hacking


def test_erratic_and_healthy_runs_raise_nothing():
    for history in (ERRATIC, HEALTHY):
        assert reward_hacking(history) is None and chosen_falling(history) is None


def test_the_margin_must_grow_by_the_limit_and_accuracy_must_not_rise():
    stalled = [PrefPoint(s, 0.70, m, -40.0, -45.0, 0.5) for s, m in ((1, 1.0), (2, 1.2), (3, 1.4), (4, 1.6))]
    assert reward_hacking(stalled) is not None  # +0.6 >= 0.5, accuracy flat
    assert reward_hacking(stalled, Limits(margin_rise=0.7)) is None
    rising = [PrefPoint(p.step, 0.70 + 0.01 * i, p.margin, -40.0, -45.0, 0.5) for i, p in enumerate(stalled)]
    assert reward_hacking(rising) is None  # +3 points of accuracy is not a stall
    fell = [PrefPoint(p.step, 0.70 - 0.05 * i, p.margin, -40.0, -45.0, 0.5) for i, p in enumerate(stalled)]
    assert "fell (70% -> 55%)" in (reward_hacking(fell) or "")
    kto = [PrefPoint(p.step, None, p.margin, -40.0, -45.0, 0.5) for p in stalled]  # no accuracy for KTO
    assert reward_hacking(kto) is None


def test_chosen_must_fall_every_time_and_end_below_the_reference_by_the_limit():
    def run(drifts, chosen):
        return [PrefPoint(i, 0.6, 1.0, c, -50.0, d) for i, (c, d) in enumerate(zip(chosen, drifts))]

    assert chosen_falling(run([0, -0.5, -0.8, -1.1], [-30.0, -30.5, -30.8, -31.1])) is not None
    # Falling but still within a nat of the reference: normal early DPO movement.
    assert chosen_falling(run([0, -0.3, -0.6, -0.9], [-30.0, -30.3, -30.6, -30.9])) is None
    # Far below the reference but recovering at the last evaluation.
    assert chosen_falling(run([0, -2.0, -3.0, -2.5], [-30.0, -32.0, -33.0, -32.5])) is None
    # Reference-free objectives have no drift: no alert can be judged.
    assert chosen_falling(run([None] * 4, [-30.0, -31.0, -32.0, -33.0])) is None
    assert LIMITS.window == 3


def test_the_watch_uses_the_training_margin_and_warns_once():
    watch = PreferenceWatch()
    raised = []
    for point, margin in zip(FALLING, [0.0, 2.058, 3.840, 4.385, 4.657]):
        raised += watch.note_eval(point.step, {"pref_accuracy": point.accuracy, "pref_margin": -0.08,
                                               "logp_chosen": point.logp_chosen,
                                               "logp_rejected": point.logp_rejected, "logp_drift": point.logp_drift})
        watch.note_step(margin)  # the step's log comes after its evaluation (Trainer order)
    assert [p.margin for p in watch.history] == [None, 0.0, 2.058, 3.840, 4.385]
    assert [r.split(":")[0] for r, _ in raised] == ["the chosen replies are becoming less likely",
                                                   "possible reward hacking"]
    assert all(advice for _, advice in raised)
    more = watch.note_eval(6, {"pref_accuracy": 0.0, "logp_chosen": -23.0, "logp_rejected": -22.0,
                               "logp_drift": -2.0})
    assert more == []  # each alert once per run
