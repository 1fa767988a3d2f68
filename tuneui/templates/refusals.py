"""The one way masking says no: a typed refusal with a stable reason code callers can count."""

from __future__ import annotations

from tuneui.contract.errors import DataError

# Stable machine codes (callers count refusals by these and show the human message beside them).
NO_CHAT_TEMPLATE = "no_chat_template"  # the tokenizer has no chat template
TEMPLATE_REJECTED = "template_rejected"  # the template raised on this conversation (its own message kept)
TEMPLATE_UNSUPPORTED = "template_unsupported"  # the template cannot be analysed (see the message)
BAD_MESSAGE = "bad_message"  # a message that is not a {"role": ...} mapping
NO_REPLY = "no_reply"  # nothing to train: no assistant reply, or only empty ones
REPLY_NOT_FOUND = "reply_not_found"  # a reply the template rendered where it cannot be located
NO_REPLY_AFTER_TRUNCATION = "no_reply_after_truncation"  # max_seq_length cuts every trained token
TOKENIZER_UNSUPPORTED = "tokenizer_unsupported"  # no character offsets (a slow tokenizer)

REASONS = (NO_CHAT_TEMPLATE, TEMPLATE_REJECTED, TEMPLATE_UNSUPPORTED, BAD_MESSAGE, NO_REPLY, REPLY_NOT_FOUND,
           NO_REPLY_AFTER_TRUNCATION, TOKENIZER_UNSUPPORTED)


class MaskingRefused(DataError):
    """An example whose trained spans cannot be determined exactly; it is never trained on a guess.

    `reason` is one of REASONS; `message` is one human line (for template rejections it carries the
    template's own words, e.g. Gemma's "System role not supported").
    """

    def __init__(self, reason: str, message: str, *, source: str | None = None, line: int | None = None):
        self.reason = reason
        self.message = message
        super().__init__(message, source=source, line=line)
