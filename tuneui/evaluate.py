"""Evaluation of a model on the validation split: loss, perplexity and a task metric.

The task metric answers the only question that matters after a fine-tune: does the model now do
the task? Each validation conversation's last assistant reply is the reference; the model answers
the conversation up to it (greedy, with the same chat template as training) and is scored by
exact match (after whitespace normalisation) when the answers are short and checkable, and by
ROUGE-L (longest common subsequence of words) when they are free text; token-level F1 is always
reported for partial credit.

The forgetting probe measures perplexity on a general-domain text the project ships (its own
writing, never trained on): a fine-tune that raises it a lot has overwritten general language
ability to learn the task (catastrophic forgetting), which the validation split cannot show.
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


def generate_replies(model, tokenizer, prompts: list[Conversation], *, max_new_tokens: int,
                     batch_size: int = 32) -> list[str]:
    import torch

    was_training = model.training
    model.eval()
    device = next(model.parameters()).device
    side = tokenizer.padding_side
    tokenizer.padding_side = "left"  # generation appends on the right; pads must not sit between
    replies: list[str] = []
    try:
        for i in range(0, len(prompts), batch_size):
            texts = [tokenizer.apply_chat_template(p, tokenize=False, add_generation_prompt=True)
                     for p in prompts[i : i + batch_size]]
            enc = tokenizer(texts, return_tensors="pt", padding=True, add_special_tokens=False).to(device)
            with torch.no_grad():
                out = model.generate(
                    **enc, max_new_tokens=max_new_tokens, do_sample=False, use_cache=True,
                    eos_token_id=tokenizer.eos_token_id, pad_token_id=tokenizer.pad_token_id,
                )
            new = out[:, enc["input_ids"].shape[1]:]
            replies += tokenizer.batch_decode(new, skip_special_tokens=True)
    finally:
        tokenizer.padding_side = side
        if was_training:
            model.train()
    return [r.strip() for r in replies]


def task_metric(model, tokenizer, convs: list[Conversation], *, limit: int = 200,
                max_new_tokens: int = 48) -> dict:
    pairs = tasks_from(convs, limit)
    name = metric_name([ref for _, ref in pairs])
    if not pairs:
        return {"name": name, "score": None, "exact_match": None, "f1": None, "rouge_l": None, "n": 0,
                "samples": []}
    replies = generate_replies(model, tokenizer, [p for p, _ in pairs], max_new_tokens=max_new_tokens)
    exact = [normalise(r) == normalise(ref) for r, (_, ref) in zip(replies, pairs)]
    f1 = [token_f1(r, ref) for r, (_, ref) in zip(replies, pairs)]
    rl = [rouge_l(r, ref) for r, (_, ref) in zip(replies, pairs)]
    samples = [{"prompt": p[-1]["content"], "reference": ref, "output": r, "correct": e}
               for (p, ref), r, e in zip(pairs, replies, exact)]
    mean = {"exact_match": sum(exact) / len(exact), "f1": sum(f1) / len(f1), "rouge_l": sum(rl) / len(rl)}
    return {"name": name, "score": mean[name], **mean, "n": len(pairs), "samples": samples}


def general_text_loss(model, tokenizer, text: str | None = None, *, window: int = 128) -> float | None:
    """Mean next-token loss on the shipped general-domain text (the forgetting probe).

    The text is cut into fixed windows so every model sees exactly the same tokens, whatever its
    context length; one batch of a dozen short windows costs well under a second on a small model.
    """
    import torch

    if text is None:
        from tuneui.demo import general_text_path

        text = general_text_path().read_text(encoding="utf-8")
    ids = tokenizer(text, add_special_tokens=False)["input_ids"]
    chunks = [ids[i : i + window] for i in range(0, len(ids), window) if len(ids[i : i + window]) > 1]
    if not chunks:
        return None
    total, count = 0.0, 0
    with eval_mode(model) as device, torch.no_grad():
        for chunk in chunks:
            x = torch.tensor([chunk], device=device)
            logits = model(input_ids=x, use_cache=False).logits.float()
            loss = torch.nn.functional.cross_entropy(logits[0, :-1], x[0, 1:], reduction="sum")
            total += float(loss)
            count += len(chunk) - 1
    return total / count


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


def forgetting_verdict(base_ppl: float | None, tuned_ppl: float | None, vocab_size: int | None = None) -> dict:
    if base_ppl is None or tuned_ppl is None or base_ppl <= 0:
        return {"ratio": None, "level": "unknown", "verdict": "not measured"}
    ratio = tuned_ppl / base_ppl
    # A base that predicts general text no better than chance (perplexity near the vocabulary size,
    # like the offline demo's randomly initialised model) knew nothing there to forget: the ratio
    # then measures how narrowly the model specialised, which the user should hear in those words.
    chance = vocab_size is not None and vocab_size > 0 and base_ppl >= 0.5 * vocab_size
    for limit, level, words in FORGETTING_BANDS:
        if ratio <= limit:
            change = f"general-text perplexity {base_ppl:.1f} -> {tuned_ppl:.1f} ({ratio:.2f}x)"
            verdict = f"{words} ({change})"
            if chance and level != "none":
                verdict += (f"; note: the base model itself predicts general text no better than chance "
                            f"(perplexity about its vocabulary of {vocab_size} tokens), so this shows how narrowly "
                            "the tuned model specialised rather than knowledge it lost")
            return {"ratio": ratio, "level": level, "verdict": verdict, "base_at_chance": chance}
    raise AssertionError("unreachable: the last band is infinite")


def evaluate_model(model, tokenizer, val_examples: list[dict], val_convs: list[Conversation], collator,
                   *, limit: int, max_new_tokens: int) -> dict:
    loss = eval_loss(model, val_examples, collator)
    metric = task_metric(model, tokenizer, val_convs, limit=limit, max_new_tokens=max_new_tokens) if limit else None
    general = general_text_loss(model, tokenizer)
    return {"eval_loss": loss, "perplexity": perplexity(loss), "task": metric,
            "general_loss": general, "general_perplexity": perplexity(general), "vocab_size": len(tokenizer)}


def build_report(base: dict, tuned: dict, *, n_samples: int = 8) -> dict:
    """report.json: base vs tuned, with a few examples where they differ."""
    bt, tt = base.get("task") or {}, tuned.get("task") or {}
    differ = [
        {"prompt": b["prompt"], "reference": b["reference"], "base": b["output"], "tuned": t["output"]}
        for b, t in zip(bt.get("samples", []), tt.get("samples", [])) if b["output"] != t["output"]
    ][:n_samples]
    return {
        "task_metric": {"name": tt.get("name", "exact_match"), "base": bt.get("score"), "tuned": tt.get("score"),
                        "n": tt.get("n", 0)},
        "exact_match": {"base": bt.get("exact_match"), "tuned": tt.get("exact_match")},
        "token_f1": {"base": bt.get("f1"), "tuned": tt.get("f1")},
        "rouge_l": {"base": bt.get("rouge_l"), "tuned": tt.get("rouge_l")},
        "eval_loss": {"base": base.get("eval_loss"), "tuned": tuned.get("eval_loss")},
        "perplexity": {"base": base.get("perplexity"), "tuned": tuned.get("perplexity")},
        "forgetting": {"base_perplexity": base.get("general_perplexity"),
                       "tuned_perplexity": tuned.get("general_perplexity"),
                       **forgetting_verdict(base.get("general_perplexity"), tuned.get("general_perplexity"),
                                            base.get("vocab_size"))},
        "examples": differ,
    }
