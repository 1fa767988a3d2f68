"""Scoring a model on the validation split: the text metrics, the loss, the forgetting verdict, report.json.

The task metric answers the only question that matters after a fine-tune: does the model now do
the task? Each validation conversation's last assistant reply is the reference; the model answers
the conversation up to it (greedy, with the same chat template as training; the generation itself
is in `tuneui.evaluate_batched`) and is scored by exact match (case-sensitive, after whitespace
normalisation; a case-insensitive figure beside it) when the answers are short and checkable, and
by ROUGE-L (longest common subsequence of words) when they are free text; token-level F1 is always
reported for partial credit. The stop rate (share of replies that end with the end-of-turn token
before the token cap) shows a model that never learned to stop, which a validation loss hides.

The forgetting probe measures perplexity on general English prose no demo dataset trains on
(assets/probe_1945_roosevelt.txt, public domain): a fine-tune that raises it a lot has overwritten
general language ability to learn the task (catastrophic forgetting), which the validation split
cannot show.
"""

from __future__ import annotations

import contextlib
import math
import re
from collections import Counter

from tuneui.data.schema import Conversation


def normalise(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip().lower()


def token_f1(pred: str, ref: str) -> float:
    p, r = normalise(pred).split(), normalise(ref).split()
    if not p or not r:
        return float(p == r)
    common = sum((Counter(p) & Counter(r)).values())
    if common == 0:
        return 0.0
    precision, recall = common / len(p), common / len(r)
    return 2 * precision * recall / (precision + recall)


def rouge_l(pred: str, ref: str) -> float:
    """ROUGE-L F-measure over words: rewards the reference's words in the right order."""
    p, r = normalise(pred).split(), normalise(ref).split()
    if not p or not r:
        return float(p == r)
    prev = [0] * (len(r) + 1)
    for a in p:
        cur = [0]
        for j, b in enumerate(r):
            cur.append(prev[j] + 1 if a == b else max(prev[j + 1], cur[j]))
        prev = cur
    lcs = prev[-1]
    if lcs == 0:
        return 0.0
    precision, recall = lcs / len(p), lcs / len(r)
    return 2 * precision * recall / (precision + recall)


def metric_name(references: list[str]) -> str:
    """exact_match when the answers are short enough to be checkable, rouge_l for free text."""
    lengths = sorted(len(normalise(r).split()) for r in references)
    if not lengths:
        return "exact_match"
    return "exact_match" if lengths[len(lengths) // 2] <= 8 else "rouge_l"


@contextlib.contextmanager
def eval_mode(model):
    """model.eval() for the block, then back to training mode if it was training."""
    was_training = model.training
    model.eval()
    try:
        yield next(model.parameters()).device
    finally:
        if was_training:
            model.train()


def eval_loss(model, examples: list[dict], collator, batch_size: int = 8) -> float | None:
    """Token-weighted mean cross-entropy over the trained (unmasked) tokens of `examples`."""
    import torch

    if not examples:
        return None
    total, count = 0.0, 0
    with eval_mode(model) as device, torch.no_grad():
        for i in range(0, len(examples), batch_size):
            batch = {k: v.to(device) for k, v in collator(examples[i : i + batch_size]).items() if k != "use_cache"}
            labels = batch.pop("labels")
            logits = model(**batch, use_cache=False).logits.float()
            shift_logits, shift_labels = logits[:, :-1], labels[:, 1:]
            loss = torch.nn.functional.cross_entropy(
                shift_logits.reshape(-1, shift_logits.size(-1)), shift_labels.reshape(-1),
                ignore_index=-100, reduction="sum",
            )
            total += float(loss)
            count += int((shift_labels != -100).sum())
    return total / max(count, 1)


def perplexity(loss: float | None) -> float | None:
    if loss is None:
        return None
    return math.exp(min(loss, 50.0))


def tasks_from(convs: list[Conversation], limit: int) -> list[tuple[Conversation, str]]:
    """(prompt messages, reference reply) pairs: the last assistant turn of each conversation."""
    out = []
    for conv in convs:
        if len(conv) >= 2 and conv[-1]["role"] == "assistant" and conv[-1]["content"].strip():
            out.append((conv[:-1], conv[-1]["content"]))
        if len(out) >= limit:
            break
    return out


# Tuned/base perplexity ratios on the general text, and what each band means for a user.
FORGETTING_BANDS = [
    (0.95, "none", "no forgetting: general text is predicted better than before"),
    (1.10, "none", "no sign of forgetting: general text is predicted as well as before"),
    (1.50, "mild", "mild forgetting: general text got somewhat harder for the model; usually acceptable"),
    (3.00, "noticeable", "noticeable forgetting: the model lost some general ability; try a lower learning "
                         "rate, fewer epochs, or LoRA instead of a full fine-tune"),
    (float("inf"), "severe", "severe forgetting: the model's general language ability broke down; lower the "
                             "learning rate, train fewer steps, or use LoRA with a smaller rank"),
]


def forgetting_verdict(base_ppl: float | None, tuned_ppl: float | None, vocab_size: int | None = None,
                       probe: str | None = None) -> dict:
    """The ratio tuned/base of general-text perplexity, its band, and a sentence for the user;
    `probe` names the text measured on, so the sentence says what the number is about."""
    if base_ppl is None or tuned_ppl is None or base_ppl <= 0:
        return {"ratio": None, "level": "unknown", "verdict": "not measured"}
    ratio = tuned_ppl / base_ppl
    # A base that predicts general text no better than chance (perplexity near the vocabulary size,
    # like the tiny randomly initialised test model) knew nothing there to forget: the ratio then
    # measures how narrowly the model specialised, which the user should hear in those words. A
    # real base is far below chance, and there the ratio is what it says: general ability kept or lost.
    chance = vocab_size is not None and vocab_size > 0 and base_ppl >= 0.5 * vocab_size
    for limit, level, words in FORGETTING_BANDS:
        if ratio <= limit:
            where = f" on {probe}" if probe else ""
            verdict = f"{words} (general-text perplexity{where}: {base_ppl:.1f} -> {tuned_ppl:.1f}, {ratio:.2f}x)"
            if chance and level != "none":
                verdict += (f"; note: the base model itself predicts general text no better than chance "
                            f"(perplexity about its vocabulary of {vocab_size} tokens), so this shows how narrowly "
                            "the tuned model specialised rather than knowledge it lost")
            return {"ratio": ratio, "level": level, "verdict": verdict, "base_at_chance": chance}
    raise AssertionError("unreachable: the last band is infinite")


def build_report(base: dict, tuned: dict, *, n_samples: int = 8) -> dict:
    """report.json: base vs tuned, with a few examples where they differ.

    `base` and `tuned` are what `evaluate_batched.evaluate_model_batched` returns (a preference run's:
    `run_eval.evaluate_preference_for_run`, which adds the `preference` block and has no task metric)."""
    bt, tt = base.get("task") or {}, tuned.get("task") or {}
    differ = [
        {"prompt": b["prompt"], "reference": b["reference"], "base": b["output"], "tuned": t["output"],
         "base_stopped": b.get("stopped"), "tuned_stopped": t.get("stopped")}
        for b, t in zip(bt.get("samples", []), tt.get("samples", [])) if b["output"] != t["output"]
    ][:n_samples]

    def pair(key: str) -> dict:
        return {"base": bt.get(key), "tuned": tt.get(key)}

    preference = ({"preference": {"base": base.get("preference"), "tuned": tuned.get("preference")}}
                  if "preference" in tuned else {})  # a preference run's ranking of the held-out replies
    return {
        "task_metric": {"name": tt.get("name", "exact_match"), "base": bt.get("score"), "tuned": tt.get("score"),
                        "n": tt.get("n", 0)},
        "exact_match": pair("exact_match"),
        "exact_match_ci": pair("exact_match_ci"),
        "token_f1": pair("f1"),
        "rouge_l": pair("rouge_l"),
        "stop_rate": pair("stop_rate"),
        "mean_new_tokens": pair("mean_new_tokens"),
        "max_new_tokens": tt.get("max_new_tokens"),
        "eval_loss": {"base": base.get("eval_loss"), "tuned": tuned.get("eval_loss")},
        "perplexity": {"base": base.get("perplexity"), "tuned": tuned.get("perplexity")},
        "forgetting": {"base_perplexity": base.get("general_perplexity"),
                       "tuned_perplexity": tuned.get("general_perplexity"),
                       "probe": tuned.get("probe"),
                       **forgetting_verdict(base.get("general_perplexity"), tuned.get("general_perplexity"),
                                            base.get("vocab_size"), tuned.get("probe"))},
        "examples": differ,
    } | preference
