"""The one home of every default that more than one part of tuneui needs.

The wizard, the CLI, the recommender and the engine all read these names; none of them writes the
number again. (A default that only one module uses stays in that module.)
"""

from __future__ import annotations

# Tokens per example when nothing (no dataset, no user) says otherwise.
MAX_SEQ_LENGTH = 1024
# LoRA capacity and scale: rank 16 with alpha = 2x rank is the common, well-tested start.
LORA_R = 16
LORA_ALPHA = 32.0
# The effective batch (micro-batch x accumulation x GPUs) the recommender aims for.
TARGET_BATCH = 16
# The share of the data held out for validation.
VAL_FRACTION = 0.1
# The kinds of personal data the cleaning step knows.
PII_KINDS: tuple[str, ...] = ("email", "phone", "ip", "credit_card", "secret")
