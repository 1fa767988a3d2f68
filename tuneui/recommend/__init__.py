"""Hardware-aware recommendation: the memory model per technique, the choice and its reasons, and the
probe that checks an estimate against real optimizer steps.

Public API (no torch import here):
  recommend(model: ModelInfo, hardware: HardwareProfile, *, seq_len=None, target_batch=16,
            dataset_stats=None) -> Recommendation
  estimate(model: ModelInfo, setup: Setup) -> MemoryEstimate
  probe.verify_fit(cfg: RunConfig, hardware) -> ProbeResult;  probe.step_down(cfg) -> RunConfig | None;
  probe.fit_config(cfg, hardware) -> (RunConfig | None, [ProbeResult])  (the verify/step-down loop)
"""

from tuneui.recommend.ladder import Alternative, Recommendation, recommend
from tuneui.recommend.memory import MemoryEstimate, Setup, estimate

__all__ = ["Alternative", "MemoryEstimate", "Recommendation", "Setup", "estimate", "recommend"]
