"""Hardware-aware recommendation: the memory model per technique, and the choice and its reasons.
(The probe that checks an estimate against real optimizer steps is runtime: tuneui.training.fit_probe.)

Public API (no torch import here):
  recommend(model: ModelInfo, hardware: HardwareProfile, *, seq_len=None, target_batch=16,
            dataset_stats=None) -> Recommendation
  estimate(model: ModelInfo, setup: Setup) -> MemoryEstimate
"""

from tuneui.recommend.ladder import Alternative, Recommendation, recommend
from tuneui.recommend.memory import MemoryEstimate, Setup, estimate

__all__ = ["Alternative", "MemoryEstimate", "Recommendation", "Setup", "estimate", "recommend"]
