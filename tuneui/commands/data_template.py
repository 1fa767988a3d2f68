"""The chat-template part of `tuneui data inspect --model`: which rows the template refuses (with the
template's own message and the documented remedy), and one example exactly as it will be trained."""

from __future__ import annotations

from collections import Counter

PREVIEW_CHARS = 1500


def template_section(tokenizer, result, options, limit: int) -> tuple[dict, str | None]:
    """(the JSON section, the one-line error when training would refuse the data, else None).
    Every example of the load's spool is rendered once, a spool batch at a time."""
    from tuneui.data.spool import Spool, from_batch
    from tuneui.data.template_check import WHOLE_TEMPLATE, Origin, find_rejections, summary_line

    rejections = []
    checked = 0
    with Spool(result.spool) as spool:
        for batch in spool.batches():
            examples, lines = from_batch(batch)
            origins = [Origin(result.path, result.unit, line, checked + i + 1) for i, line in enumerate(lines)]
            rejections += find_rejections(tokenizer, [ex.messages for ex in examples], origins, options=options,
                                          tools=[ex.tools for ex in examples])
            checked += len(examples)
            if rejections and rejections[0].reason in WHOLE_TEMPLATE:
                break  # the template itself is refused: every other row would say the same
    # A template-wide refusal (no template, a template that cannot be analysed) is said once.
    listed = [r for i, r in enumerate(rejections) if r.reason not in WHOLE_TEMPLATE or i == 0]
    section = {
        "checked": result.examples,
        "train_reasoning": options.train_reasoning,
        "fold_system": options.fold_system,
        "refused": dict(Counter(r.reason for r in rejections)),
        "rows": [{"where": r.located(), "line": r.origin.line, "row": r.origin.row, "reason": r.reason,
                  "message": r.message, "blocking": r.blocking} for r in listed[:limit]],
        "more_rows": max(0, len(listed) - limit),
        "remedies": list(dict.fromkeys(r.remedy for r in rejections if r.remedy)),
    }
    blocking = [r for r in rejections if r.blocking]
    return section, summary_line(blocking, result.examples) if blocking else None


def print_template(t: dict) -> None:
    settings = (f"train_reasoning = {str(t['train_reasoning']).lower()}, "
                f"fold_system = {str(t['fold_system']).lower()}")
    refused = sum(t["refused"].values())
    if not refused:
        print(f"chat template: all {t['checked']} examples render ({settings})")
    else:
        reasons = ", ".join(f"{reason} {n}" for reason, n in t["refused"].items())
        print(f"chat template: {refused} of {t['checked']} examples refused: {reasons} ({settings})")
    for row in t["rows"]:
        print(f"  {row['where']}")
    if t["more_rows"]:
        print(f"  ... and {t['more_rows']} more (--problems N or --json)")
    for remedy in t["remedies"]:
        print(f"  remedy: {remedy}")


def print_preview(preview: dict | None) -> None:
    if preview is None:
        return
    if preview.get("refusal"):
        r = preview["refusal"]
        print(f"no example to preview: row {r['row']}: {r['message']} [{r['reason']}]")
        return
    print(f"example {preview['row']} as it will be trained ({preview['trained_tokens']} of {preview['tokens']} "
          "tokens trained, shown between [[ and ]]):")
    text = "".join(f"[[{s['text']}]]" if s["trained"] else s["text"] for s in preview["segments"])
    if len(text) > PREVIEW_CHARS:
        text = text[:PREVIEW_CHARS] + "…"
    print("  " + text.rstrip("\n").replace("\n", "\n  "))
    if preview.get("reasoning"):
        print(f"  {preview['reasoning']}")
