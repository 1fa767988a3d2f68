"""Evaluation of a model on the validation split: loss, perplexity and a task metric.

The task metric answers the only question that matters after a fine-tune: does the model now do
the task? Each validation conversation's last assistant reply is the reference; the model answers
the conversation up to it (greedy, with the same chat template as training) and is scored by
exact match (after whitespace normalisation) and token-level F1 for partial credit.
"""

from __future__ import annotations

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


def eval_loss(model, examples: list[dict], collator, batch_size: int = 8) -> float | None:
    """Token-weighted mean cross-entropy over the trained (unmasked) tokens of `examples`."""
    import torch

    if not examples:
        return None
    was_training = model.training
    model.eval()
    device = next(model.parameters()).device
    total, count = 0.0, 0
    with torch.no_grad():
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
    if was_training:
        model.train()
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
    if not pairs:
        return {"name": "exact_match", "score": None, "f1": None, "n": 0, "samples": []}
    replies = generate_replies(model, tokenizer, [p for p, _ in pairs], max_new_tokens=max_new_tokens)
    exact = [normalise(r) == normalise(ref) for r, (_, ref) in zip(replies, pairs)]
    f1 = [token_f1(r, ref) for r, (_, ref) in zip(replies, pairs)]
    samples = [{"prompt": p[-1]["content"], "reference": ref, "output": r, "correct": e}
               for (p, ref), r, e in zip(pairs, replies, exact)]
    return {"name": "exact_match", "score": sum(exact) / len(exact), "f1": sum(f1) / len(f1),
            "n": len(pairs), "samples": samples}


def evaluate_model(model, tokenizer, val_examples: list[dict], val_convs: list[Conversation], collator,
                   *, limit: int, max_new_tokens: int) -> dict:
    loss = eval_loss(model, val_examples, collator)
    metric = task_metric(model, tokenizer, val_convs, limit=limit, max_new_tokens=max_new_tokens) if limit else None
    return {"eval_loss": loss, "perplexity": perplexity(loss), "task": metric}


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
        "token_f1": {"base": bt.get("f1"), "tuned": tt.get("f1")},
        "eval_loss": {"base": base.get("eval_loss"), "tuned": tuned.get("eval_loss")},
        "perplexity": {"base": base.get("perplexity"), "tuned": tuned.get("perplexity")},
        "examples": differ,
    }
