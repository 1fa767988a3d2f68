"""Records -> Examples, once the kind and format of a file are known.

A `Plan` says how to read every record (it is plain data, so worker processes can carry it); a
`Normaliser` applies it record by record: the example, what is wrong with it (errors drop the
record, warnings keep it), and the numbers/booleans it read as text.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from tuneui.contract.datasets import Example
from tuneui.data.formats import check_conversation, to_conversation
from tuneui.data.kinds import media_in_row
from tuneui.data.messages import Coercions, RowError
from tuneui.data.preference import check_pair, to_kto, to_preference
from tuneui.data.tools import ToolFormatError, normalise_tools, tool_names

TOOL_COLUMNS = ("tools", "functions")


@dataclass
class Plan:
    kind: str  # sft | text | preference | kto (refused kinds are only counted, never normalised)
    fmt: str  # the SFT format, or the preference/KTO shape
    columns: dict[str, str] = field(default_factory=dict)


class Normaliser:
    def __init__(self, plan: Plan):
        self.plan = plan
        self.coerce = Coercions()

    def example(self, rec: dict) -> Example:
        """The record as an Example; RowError (with a kind) when it cannot be one."""
        media = media_in_row(rec)
        if media:
            raise RowError(f"multimodal row: {media}", "multimodal")
        plan = self.plan
        if plan.kind == "preference":
            ex = to_preference(rec, plan.fmt, plan.columns, self.coerce)
        elif plan.kind == "kto":
            ex = to_kto(rec, plan.columns, self.coerce)
        else:
            ex = Example(to_conversation(rec, plan.fmt, plan.columns, self.coerce))
        col = next((c for c in TOOL_COLUMNS if rec.get(c) not in (None, "", [])), None)
        if col is not None:
            try:
                ex.tools = normalise_tools(rec[col])
            except ToolFormatError as exc:
                raise RowError(f"field '{col}' {exc}", "bad_tools") from None
        return ex

    def check(self, ex: Example) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
        if self.plan.kind in ("preference", "kto"):
            errors, warnings = check_pair(ex)
        else:
            errors, warnings = check_conversation(ex.messages)
        if ex.tools is not None or any("tool_calls" in m for _, part in ex.parts() for m in part):
            warnings += _undefined_calls(ex)
        return errors, warnings


def _undefined_calls(ex: Example) -> list[tuple[str, str]]:
    """Calls to functions the example does not define: the model would learn to call them blind."""
    defined = set(tool_names(ex.tools))
    out = []
    for name, part in ex.parts():
        for i, m in enumerate(part, 1):
            for call in m.get("tool_calls") or []:
                fn = call.get("function", {}).get("name")
                if fn and fn not in defined:
                    where = f"message {i}" if name == "messages" else f"{name} message {i}"
                    out.append(("undefined_tool", f"{where} calls '{fn}', which is not among this example's tools"))
    return out
