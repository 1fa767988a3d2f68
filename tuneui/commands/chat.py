"""`tuneui chat RUN_DIR|ADAPTER_DIR`: talk to a tuned model, its base model side by side.

Interactive (a terminal): opens the wizard's Chat screen on that run. With `--prompt TEXT` it
answers once and exits, streaming to stdout; `--json` prints a stable object instead:
  {"schema": 1, "model": str, "kind": "peft"|"full", "prompt": str,
   "tuned": {"text": str, "tokens": int, "finished": bool},
   "base": {"text": str, "tokens": int, "finished": bool} | null}
"""

from __future__ import annotations

import argparse
import json
import sys

from tuneui.contract.errors import TuneuiError


def register(sub) -> None:
    p = sub.add_parser("chat", help="chat with a tuned adapter (and the base model, side by side)",
                       description="Chat with a run's tuned model. Without --prompt, opens the chat screen.")
    p.add_argument("path", metavar="RUN_DIR|ADAPTER_DIR", help="a run directory, adapter or merged model directory")
    p.add_argument("--prompt", help="answer this one prompt and exit (no screen)")
    p.add_argument("--system", help="a system message to put before the prompt")
    p.add_argument("--side-by-side", action="store_true", help="with --prompt: also answer with the base model")
    p.add_argument("--temperature", type=float, default=0.0, help="0 = greedy (default)")
    p.add_argument("--top-p", type=float, default=1.0)
    p.add_argument("--max-new-tokens", type=int, default=256)
    p.add_argument("--json", action="store_true", help="with --prompt: print the stable JSON object")
    p.set_defaults(func=run)


def _settings(args):
    from tuneui.contract.loop import GenerationSettings

    return GenerationSettings(args.temperature, args.top_p, args.max_new_tokens).validate()


def run(args: argparse.Namespace) -> int:
    settings = _settings(args)
    if args.prompt is None:
        if not sys.stdin.isatty() or not sys.stdout.isatty():
            raise TuneuiError("chat: no terminal for the chat screen; give --prompt TEXT to answer once")
        from pathlib import Path

        from tuneui.screens.app import run_app

        return run_app(chat=Path(args.path), chat_settings=settings)
    from tuneui.chat import ChatSession
    from tuneui.contract.loop import Reply

    session = ChatSession.load(args.path)
    messages = ([{"role": "system", "content": args.system}] if args.system else []) + \
        [{"role": "user", "content": args.prompt}]
    answers: dict[str, Reply | None] = {"tuned": None, "base": None}
    sides = ["tuned", "base"] if args.side_by_side else ["tuned"]
    if args.side_by_side and not session.has_base:
        raise TuneuiError(f"{args.path}: no base model known to compare with (a merged export?)")
    for side in sides:
        reply = Reply()
        if not args.json and args.side_by_side:
            print(f"── {side} ──", flush=True)
        for piece in session.stream(messages, base=side == "base", settings=settings, reply=reply):
            if not args.json:
                sys.stdout.write(piece)
                sys.stdout.flush()
        if not args.json:
            print(flush=True)
        answers[side] = reply
    if args.json:
        def obj(r):
            return None if r is None else {"text": r.text.strip(), "tokens": r.tokens, "finished": r.finished}

        print(json.dumps({"schema": 1, "model": str(args.path), "kind": session.kind, "prompt": args.prompt,
                          "tuned": obj(answers["tuned"]), "base": obj(answers["base"])}, ensure_ascii=False))
    return 0
