"""`tuneui data inspect FILE` and `tuneui data clean FILE -o OUT`: the data steps of the wizard, headless.

inspect: format (with confidence and evidence), columns, row count, every problem with its line,
length statistics, and with --model: every example rendered once by the model's chat template
(`FILE:LINE: row N: message [reason]` for each one it refuses, with the model family's remedy), the
token statistics and one example exactly as it will be trained.
clean: cleaned train/val Parquet files and report.json in OUT; FILE is never modified.
Both exit 2 with one line naming the file and line when the input has bad lines (clean accepts
--skip-bad to skip them; inspect still prints its full report first); inspect also when the chat
template rejects examples training could not use.
"""

from __future__ import annotations

import argparse
import json
import sys

from tuneui.contract import defaults
from tuneui.contract.errors import ConfigError, DataError


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("data", help="inspect or clean a dataset",
                                   description="Inspect or clean a dataset file (FILE is never modified).")
    sub = parser.add_subparsers(dest="data_command", metavar="ACTION", required=True)

    def common(p: argparse.ArgumentParser) -> None:
        p.add_argument("file", metavar="FILE", help="JSONL/JSON/CSV/TSV/Parquet/text file, a "
                       "datasets.save_to_disk folder, or a Hugging Face hub dataset name")
        p.add_argument("--format", default="auto", metavar="FMT",
                       help="auto (default), messages, sharegpt, alpaca, prompt_completion, qa or text")
        p.add_argument("--column", action="append", default=[], metavar="FIELD=COLUMN",
                       help="map a format field to your column, e.g. --column question=q (repeatable)")
        p.add_argument("--model", help="tokenizer for token statistics: 'demo', a model directory or hub id")
        p.add_argument("--seq-len", type=int, default=defaults.MAX_SEQ_LENGTH, metavar="N",
                       help=f"max sequence length ({defaults.MAX_SEQ_LENGTH})")
        p.add_argument("--json", action="store_true", help="print one JSON object instead of text")
        p.add_argument("--fold-system", action="store_true",
                       help="with --model: fold the system prompt into the first user turn, for chat templates "
                            "with no system role (training: --set fold_system=true)")
        p.add_argument("--train-reasoning", action=argparse.BooleanOptionalAction, default=True,
                       help="with --model: train the replies' reasoning (<think>...</think>) (default: yes)")

    ins = sub.add_parser("inspect", help="format, columns, problems with line numbers, length statistics")
    common(ins)
    ins.add_argument("--problems", type=int, default=50, metavar="N", help="problems to list (50)")
    ins.set_defaults(func=run_inspect)

    cl = sub.add_parser("clean", help="write cleaned train/val Parquet files and a report")
    common(cl)
    cl.add_argument("-o", "--output", required=True, metavar="OUT", help="output directory")
    cl.add_argument("--skip-bad", action="store_true", help="skip bad lines (they are listed in the report)")
    cl.add_argument("--val-fraction", type=float, default=None, metavar="F",
                    help="validation share (default: 10%%, at most 2,000 examples); 0 writes no val file")
    cl.add_argument("--seed", type=int, default=42, help="split seed (42)")
    cl.add_argument("--set", action="append", default=[], metavar="OPTION=VALUE", dest="options",
                    help="a cleaning option, e.g. --set pii=drop --set near_dup_threshold=0.9 (repeatable)")
    cl.set_defaults(func=run_clean)


def _columns(items: list[str]) -> dict[str, str] | None:
    out = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip() or not value.strip():
            raise ConfigError(f"--column {item!r}: expected FIELD=COLUMN")
        out[key.strip()] = value.strip()
    return out or None


def _options(items: list[str]):
    import tomllib

    from tuneui.cleaning import CleanOptions

    data = {}
    for item in items:
        key, sep, raw = item.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"--set {item!r}: expected OPTION=VALUE")
        try:
            value = tomllib.loads(f"v = {raw}")["v"]
        except tomllib.TOMLDecodeError:
            value = raw
        data[key.strip()] = value
    return CleanOptions.from_dict(data)


def _tokenizer(model: str | None):
    if not model:
        return None
    from tuneui.contract.config import RunConfig
    from tuneui.modelload import load_tokenizer

    return load_tokenizer(RunConfig(model=model))


def _stats_line(s: dict) -> str:
    p = s.get("percentiles", {})
    return (f"min {s.get('min', 0)}, p50 {p.get('p50', 0)}, p90 {p.get('p90', 0)}, p99 {p.get('p99', 0)}, "
            f"max {s.get('max', 0)}")


def _token_sample(spool: str, limit: int = 5000, seed: int = 0) -> list:
    """A seeded sample of up to `limit` examples of a spool (token statistics need no more)."""
    import random

    from tuneui.data.spool import Spool

    with Spool(spool) as sp:
        rows = range(sp.rows)
        picked = sorted(random.Random(seed).sample(rows, limit)) if sp.rows > limit else list(rows)
        got = sp.take(picked)
    return [got[r][0] for r in picked]


def run_inspect(args: argparse.Namespace) -> int:
    import tempfile
    from pathlib import Path

    from tuneui.commands.progress import ProgressPrinter
    from tuneui.data import load_dataset

    printer = ProgressPrinter(quiet=args.json)
    tok = _tokenizer(args.model)
    refused = None
    with tempfile.TemporaryDirectory(prefix="tuneui-inspect-") as tmp:
        spool = Path(tmp) / "examples.arrow" if tok is not None else None
        try:
            result = load_dataset(args.file, fmt=args.format, columns=_columns(args.column), spool=spool,
                                  progress=printer)
        finally:
            printer.done()
        out = result.to_dict(max_problems=args.problems)
        out["lengths"] = result.lengths.to_dict() if result.lengths is not None else {}
        if tok is not None and result.spool and result.kind in ("sft", "text"):
            from tuneui.commands.data_template import template_section
            from tuneui.data.preview import preview_first
            from tuneui.data.stats import token_stats
            from tuneui.templates import RenderOptions

            options = RenderOptions(train_reasoning=args.train_reasoning, fold_system=args.fold_system)
            # Rendered once per example before anything else: what the template refuses is named by row,
            # and the statistics and preview below never meet an example they cannot encode unawares.
            out["template"], refused = template_section(tok, result, options, args.problems)
            sample = _token_sample(result.spool)
            out["tokens"] = token_stats([ex.messages for ex in sample], tok, args.seq_len, options=options,
                                        tools=[ex.tools for ex in sample]).to_dict()
            preview = preview_first(tok, [ex.messages for ex in result.preview], args.seq_len, options=options,
                                    tools=[ex.tools for ex in result.preview])
            out["preview"] = preview.to_dict() if preview else None
    if args.json:
        print(json.dumps(out, ensure_ascii=False))
    else:
        _print_inspect(out, args)
    first_error = result.first_error_message()
    if first_error:
        print(f"tuneui: error: {first_error}", file=sys.stderr)
        return 2
    if result.kind in ("multimodal", "pretokenized"):
        print(f"tuneui: error: {result.path}: {result.refusal}", file=sys.stderr)
        return 2
    if refused:
        print(f"tuneui: error: the chat template refuses the data: {refused}", file=sys.stderr)
        return 2
    return 0


def _print_inspect(d: dict, args: argparse.Namespace) -> None:
    fmt = d["format"]
    print(f"{d['path']}: {d['file_type']}, {d['encoding'] or 'binary'}, {d['records']} {d['unit']}s")
    print(f"kind: {d['kind']}")
    for line in d["kind_evidence"]:
        print(f"  - {line}")
    print(f"format: {fmt['name']} (confidence {fmt['confidence']:.0%})")
    for line in fmt["evidence"] + d["notes"]:
        print(f"  - {line}")
    print(f"examples: {d['examples']} usable")
    if d["refusal"]:
        print(f"training: refused: {d['refusal']}")
    summary = d["problem_summary"]
    print(f"problems: {summary['errors']} errors on {summary['bad_lines']} {d['unit']}s, {summary['warnings']} warnings")
    for p in d["problems"]:
        print(f"  {p['where']}: {p['severity']}: {p['message']}")
    shown, total = len(d["problems"]), summary["errors"] + summary["warnings"]
    if total > shown:
        print(f"  ... and {total - shown} more (--problems N or --json)")
    if d["lengths"]:
        print(f"length (words): {_stats_line(d['lengths'])}")
    if "template" in d:
        from tuneui.commands.data_template import print_template

        print_template(d["template"])
    if "tokens" in d:
        from tuneui.commands.data_template import print_preview

        t = d["tokens"]
        refused = sum(r["count"] for r in t["refusals"])
        print(f"length (tokens): {_stats_line(t['lengths'])}"
              + (f" ({refused} refused examples not measured)" if refused else ""))
        print(f"over --seq-len {t['max_seq_length']}: {t['over_max']} examples (answer cut in {t['answer_cut']}, "
              f"answer lost entirely in {t['answer_lost']}, only prompt tokens cut in {t['prompt_only_cut']})")
        print_preview(d.get("preview"))
    elif d["examples"] and d["kind"] in ("sft", "text"):
        print("token statistics: pass --model (e.g. --model demo) to measure with a tokenizer")


def run_clean(args: argparse.Namespace) -> int:
    import tempfile
    from pathlib import Path

    from tuneui.cleaning.flow import large_removal_lines, load_and_clean, split_cleaned
    from tuneui.cleaning.output import check_output_dir, write_report
    from tuneui.commands.progress import ProgressPrinter

    options = _options(args.options)
    if args.val_fraction is not None and not 0 <= args.val_fraction < 1:
        raise ConfigError(f"--val-fraction: must be in [0, 1), got {args.val_fraction}")
    out_dir = Path(args.output)
    check_output_dir(out_dir, [Path(args.file)])
    printer = ProgressPrinter(quiet=args.json)
    tok = _tokenizer(args.model)
    with tempfile.TemporaryDirectory(prefix="tuneui-clean-") as tmp:
        try:
            loaded, cleaned = load_and_clean(args.file, args.format, _columns(args.column), options, workdir=tmp,
                                             progress=printer, tokenizer=tok)
            if loaded.problems.has_errors and not args.skip_bad:
                raise DataError(f"{loaded.first_error_message()}; fix them or pass --skip-bad to skip them")
            if loaded.kind in ("multimodal", "pretokenized") or cleaned is None:
                raise DataError(loaded.refusal or "no usable examples", source=loaded.path)
            if not loaded.examples:
                raise DataError("no usable examples", source=loaded.path)
            if not cleaned.count:
                top = sorted(((n, f) for f, n in cleaned.report.removed.items() if n), reverse=True)[:3]
                raise DataError("cleaning removed every example (" + ", ".join(f"{f}: {n}" for n, f in top)
                                + "); switch a filter off or relax it with --set, e.g. --set quality=false",
                                source=loaded.path)
            split, outputs = split_cleaned(cleaned, args.val_fraction, args.seed, out_dir, loaded.kind,
                                           threshold=options.near_dup_threshold,
                                           min_words=options.near_dup_min_words)
        finally:
            printer.done()
    for line in large_removal_lines(cleaned):
        print(line, file=sys.stderr)
    load = loaded.to_dict()
    report = {
        "input": loaded.path,
        "kind": loaded.kind,
        "format": load["format"],
        "load": {k: load[k] for k in ("file_type", "encoding", "unit", "records", "examples", "kind", "kind_evidence",
                                      "refusal", "coerced", "problem_summary", "problems", "seconds")},
        "cleaning": cleaned.report.to_dict(),
        "split": split,
    }
    outputs["report"] = write_report(out_dir, report)
    report["outputs"] = outputs
    if args.json:
        print(json.dumps(report, ensure_ascii=False))
        return 0
    c = report["cleaning"]
    print(f"cleaned {loaded.path} ({loaded.kind}): {c['before']} -> {c['after']} examples"
          + (f" ({load['problem_summary']['bad_lines']} bad {loaded.unit}s skipped)" if loaded.problems.has_errors else ""))
    if loaded.refusal:
        print(f"  note: {loaded.refusal}")
    for f in c["filters"]:
        if not f["enabled"]:
            continue
        print(f"  {f['name']:<17} removed {f['removed']:>6}  repaired {f['modified']:>6}")
        for e in f["examples"][:1]:
            where = f"{loaded.unit} {e['line']}" if "line" in e else f"#{e['index']}"
            print(f"      e.g. {where}: {e['reason']}")
    lk = split["leakage"]
    print(f"split: {split['train']} train / {split['val']} val (seed {args.seed}); near-duplicate pairs across "
          f"the split: {lk['pairs_across_split']} (a random split would have had {lk['pairs_across_random_split']})"
          + (f"; prompts on both sides: {lk['prompts_across_split']}" if "prompts_across_split" in lk else ""))
    for _name, path in outputs.items():
        print(f"wrote {path}")
    return 0
