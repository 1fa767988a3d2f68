"""Plan again when the data's token counts land after the Technique step was planned without them.

A first-timer pressing Next as soon as it is enabled reaches Technique (and Settings) before the
tokenizer has measured the data: the plan then used the default sequence length (1024), and nothing
planned again, so the run got 1024 for good. When the measurement lands, the plan is made again for
the measured data and the new values replace the old plan's, except where the user changed a value
(a field that no longer holds the old plan's value keeps the user's).
"""

from __future__ import annotations

from typing import Any

from tuneui.contract.config import RunConfig
from tuneui.contract.recommend import Recommendation


def replanned(cfg: RunConfig, old: Recommendation, new: Recommendation) -> dict[str, Any]:
    """The fields to set: the new plan's values for those still at the old plan's value."""
    before, after = old.run_config_updates(), new.run_config_updates()
    return {k: v for k, v in after.items()
            if k in before and getattr(cfg, k) == before[k] and getattr(cfg, k) != v}
