"""What a RunConfig refuses for safety's sake: a run name that would leave the runs folder, and model
code that would run without a reviewed pin or an explicit consent.

`trust_remote_code` runs Python that ships with the model. For a hub model that code must be the
code the user reviewed, so the revision must be a full 40-hex commit hash: a branch or a tag
('main', 'v1') can be moved to other code after the review. A local directory has no revision at
all, so it needs its own consent: `trust_local_code` naming that very directory
(`tuneui train --trust-local-code PATH`).
"""

from __future__ import annotations

import re
import unicodedata
from pathlib import Path

COMMIT = re.compile(r"[0-9a-f]{40}")
MAX_NAME = 100


def name_problem(name: str) -> str | None:
    """Why `name` is not a plain name (one path component, nothing hidden, no control characters)."""
    if name in (".", ".."):
        return "a plain name, not '.' or '..'"
    if "/" in name or "\\" in name:
        return "a plain name without '/' or '\\' (it names a folder inside the runs folder)"
    if name.startswith((".", "-")) or name != name.strip():
        return "a plain name that starts with a letter or digit and has no surrounding spaces"
    if any(unicodedata.category(ch).startswith("C") for ch in name):
        return "a plain name without control characters"
    if len(name) > MAX_NAME:
        return f"a plain name of at most {MAX_NAME} characters"
    return None


def _same_dir(a: str, b: str) -> bool:
    try:
        return Path(a).expanduser().resolve() == Path(b).expanduser().resolve()
    except (OSError, RuntimeError):  # RuntimeError: a symlink loop on older Pythons
        return False


def remote_code_problem(model: str, revision: str | None, trust_remote_code: bool,
                        trust_local_code: str | None) -> str | None:
    """Why this model's own code may not run, or None when it may (or none is asked to run)."""
    if not trust_remote_code or model == "demo":
        return None
    local = Path(model).expanduser()
    if local.exists():
        if trust_local_code and _same_dir(trust_local_code, model):
            return None
        return (f"trust_remote_code: {model} is a local directory, and its Python code runs only with your "
                f"explicit consent: add --trust-local-code {model} (or trust_local_code = \"{model}\")")
    if not revision or not COMMIT.fullmatch(revision):
        got = f" (got {revision!r})" if revision else ""
        return ("revision: trust_remote_code runs the repository's own code, so pin the exact code you reviewed "
                f"with its full 40-character commit hash{got}; a branch or tag can change after your review")
    return None
