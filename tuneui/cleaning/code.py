"""Where a text holds code: fenced blocks, inline code and lines that read as code.

PII masking leaves these alone: the e-mail regex an answer teaches, the IP in a config file and the
address in a unit test are what the example is about, and rewriting them breaks the code.
"""

from __future__ import annotations

import re

_FENCED = re.compile(r"```[^\n]*\n[\s\S]*?(?:```|\Z)|~~~[\s\S]*?(?:~~~|\Z)")
_INLINE = re.compile(r"`[^`\n]+`")
_CODE_LINE = re.compile(
    r"^[ \t]*(?:def |class |import |from [\w.]+ import |#include|function |var |let |const |return |public |private "
    r"|static |func |fn |package |using |(?:if|for|while|switch) ?\(|SELECT |INSERT |UPDATE |DELETE |CREATE |\$ |>>> "
    r"|[\w.\[\]]+ ?(?:=|\+=|:=) ?[\w\"'\[{(/\\^]|[\w.]+\(.*\)\s*;?\s*$|\S.*[;{}]\s*$|@\w+)",
    re.MULTILINE,
)
# A whole text that is mostly punctuation of programming languages is code even without the above.
_SYMBOLS = frozenset("{}()[];=<>\\/|&$^*+#_")


def code_spans(text: str) -> list[tuple[int, int]]:
    """Sorted [start, end) character ranges of code in `text`."""
    spans = [m.span() for m in _FENCED.finditer(text)]

    def inside(pos: int) -> bool:
        return any(a <= pos < b for a, b in spans)

    extra = [m.span() for m in _INLINE.finditer(text) if not inside(m.start())]
    for m in _CODE_LINE.finditer(text):
        if inside(m.start()):
            continue
        line_end = text.find("\n", m.start())
        extra.append((m.start(), len(text) if line_end < 0 else line_end))
    spans += extra
    if not spans and len(text) >= 40 and sum(c in _SYMBOLS for c in text) / len(text) > 0.12:
        spans.append((0, len(text)))
    return sorted(spans)
