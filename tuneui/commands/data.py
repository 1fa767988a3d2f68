"""`tuneui data inspect FILE` and `tuneui data clean FILE -o OUT`: the data steps of the wizard, headless.

inspect: format (with confidence and evidence), columns, row count, every problem with its line,
length statistics, and with --model the token statistics and a preview of what will be trained.
clean: cleaned train/val Parquet files and report.json in OUT; FILE is never modified.
Both exit 2 with one line naming the file and line when the input has bad lines (clean accepts
--skip-bad to skip them; inspect still prints its full report first).
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


def run_inspect(args: argparse.Namespace) -> int:
    from tuneui.data import load_dataset
    from tuneui.data.stats import word_stats

    result = load_dataset(args.file, fmt=args.format, columns=_columns(args.column))
    out = result.to_dict(max_problems=args.problems)
    out["lengths"] = word_stats(result.conversations).to_dict()
    tok = _tokenizer(args.model)
    if tok is not None and result.conversations:
        from tuneui.data.preview import preview_example
        from tuneui.data.stats import token_stats

        out["tokens"] = token_stats(result.conversations, tok, args.seq_len).to_dict()
        out["preview"] = preview_example(tok, result.conversations[0], args.seq_len).to_dict()
    if args.json:
        print(json.dumps(out, ensure_ascii=False))
    else:
        _print_inspect(out, args)
    first = result.first_error_message()
    if first:
        print(f"tuneui: error: {first}", file=sys.stderr)
        return 2
    return 0


def _print_inspect(d: dict, args: argparse.Namespace) -> None:
    fmt = d["format"]
    print(f"{d['path']}: {d['file_type']}, {d['encoding'] or 'binary'}, {d['records']} {d['unit']}s")
    print(f"format: {fmt['name']} (confidence {fmt['confidence']:.0%})")
    for line in fmt["evidence"] + d["notes"]:
        print(f"  - {line}")
    print(f"examples: {d['examples']} usable")
    summary = d["problem_summary"]
    print(f"problems: {summary['errors']} errors on {summary['bad_lines']} {d['unit']}s, {summary['warnings']} warnings")
    for p in d["problems"]:
        print(f"  {p['where']}: {p['severity']}: {p['message']}")
    shown, total = len(d["problems"]), summary["errors"] + summary["warnings"]
    if total > shown:
        print(f"  ... and {total - shown} more (--problems N or --json)")
    print(f"length (words): {_stats_line(d['lengths'])}")
    if "tokens" in d:
        t = d["tokens"]
        print(f"length (tokens): {_stats_line(t['lengths'])}")
        print(f"over --seq-len {t['max_seq_length']}: {t['over_max']} examples (answer cut in {t['answer_cut']}, "
              f"answer lost entirely in {t['answer_lost']}, only prompt tokens cut in {t['prompt_only_cut']})")
    elif d["examples"]:
        print("token statistics: pass --model (e.g. --model demo) to measure with a tokenizer")


def run_clean(args: argparse.Namespace) -> int:
    from pathlib import Path

    from tuneui.cleaning import clean, train_val_split
    from tuneui.cleaning.output import check_output_dir, write_cleaned
    from tuneui.data import load_dataset

    options = _options(args.options)
    if args.val_fraction is not None and not 0 <= args.val_fraction < 1:
        raise ConfigError(f"--val-fraction: must be in [0, 1), got {args.val_fraction}")
    out_dir = Path(args.output)
    check_output_dir(out_dir, [Path(args.file)])
    loaded = load_dataset(args.file, fmt=args.format, columns=_columns(args.column))
    if loaded.problems.has_errors and not args.skip_bad:
        raise DataError(loaded.first_error_message() + "; fix them or pass --skip-bad to skip them")
    if not loaded.conversations:
        raise DataError("no usable examples", source=loaded.path)
    tok = _tokenizer(args.model)
    result = clean(loaded.conversations, options, lines=loaded.lines, tokenizer=tok, max_seq_length=args.seq_len)
    if not result.kept:
        top = sorted(((n, f) for f, n in result.report.removed.items() if n), reverse=True)[:3]
        raise DataError("cleaning removed every example (" + ", ".join(f"{f}: {n}" for n, f in top)
                        + "); switch a filter off or relax it with --set, e.g. --set quality=false",
                        source=loaded.path)
    lines = [loaded.lines[i] for i in result.kept_indices]
    split = train_val_split(result.kept, args.val_fraction, args.seed,
                            near_dup_threshold=options.near_dup_threshold,
                            near_dup_min_words=options.near_dup_min_words, deduplicated=options.near_dedup)
    load = loaded.to_dict()
    report = {
        "input": loaded.path,
        "format": load["format"],
        "load": {k: load[k] for k in ("file_type", "encoding", "unit", "records", "examples", "problem_summary",
                                      "problems")},
        "cleaning": result.to_dict(),
        "split": split.to_dict(),
    }
    report["outputs"] = write_cleaned(out_dir, split.train, split.val, report,
                                      [lines[i] for i in split.train_indices], [lines[i] for i in split.val_indices])
    if args.json:
        print(json.dumps(report, ensure_ascii=False))
        return 0
    c = report["cleaning"]
    print(f"cleaned {loaded.path}: {c['before']} -> {c['after']} examples"
          + (f" ({load['problem_summary']['bad_lines']} bad {loaded.unit}s skipped)" if loaded.problems.has_errors else ""))
    for f in c["filters"]:
        if not f["enabled"]:
            continue
        print(f"  {f['name']:<17} removed {f['removed']:>6}  repaired {f['modified']:>6}")
        for e in f["examples"][:1]:
            where = f"{loaded.unit} {e['line']}" if "line" in e else f"#{e['index']}"
            print(f"      e.g. {where}: {e['reason']}")
    lk = split.leakage
    print(f"split: {len(split.train)} train / {len(split.val)} val (seed {args.seed}); near-duplicate pairs across "
          f"the split: {lk['pairs_across_split']} (a random split would have had {lk['pairs_across_random_split']})")
    for _name, path in report["outputs"].items():
        print(f"wrote {path}")
    return 0
