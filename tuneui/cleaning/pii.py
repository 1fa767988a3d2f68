"""Personal data and secrets: emails, phone numbers, IP addresses, credit card numbers (Luhn
checked) and API keys / secret-looking tokens. Found spans are masked with a placeholder such as
`<EMAIL>` or the example is dropped, as the user chooses.

Patterns lean towards precision: a version string or a date must not be masked as a phone
number, because masking damages good examples silently.
"""

from __future__ import annotations

import math
import re
from collections import Counter

KINDS = ("email", "phone", "ip", "credit_card", "secret")
PLACEHOLDER = {"email": "<EMAIL>", "phone": "<PHONE>", "ip": "<IP_ADDRESS>", "credit_card": "<CREDIT_CARD>",
               "secret": "<SECRET>"}

_EMAIL = r"(?P<email>\b[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}\b)"
_SECRET = (
    r"(?P<secret>-----BEGIN [A-Z ]*PRIVATE KEY-----[\s\S]*?(?:-----END [A-Z ]*PRIVATE KEY-----|$)"
    r"|(?:sk-(?:proj-|ant-)?[A-Za-z0-9_-]{20,}|AKIA[0-9A-Z]{16}|gh[pousr]_[A-Za-z0-9]{36,}"
    r"|github_pat_[A-Za-z0-9_]{40,}|xox[abposr]-[A-Za-z0-9-]{10,}|AIza[0-9A-Za-z_-]{35}|hf_[A-Za-z0-9]{30,}"
    r"|glpat-[A-Za-z0-9_-]{20,}|sk_live_[A-Za-z0-9]{20,}|eyJ[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,})"
    r"(?![A-Za-z0-9]))"
)
_SECRET_LONG = r"(?P<secret>[A-Za-z0-9+/_-]{32,}={0,2})"  # any long token; _accept keeps random-looking ones
_SECRET_KV = r"(?i:api_?key|password|passwd|secret|token)=(?P<secret_kv>[^\s&\"',;]{8,})"
# Patterns start with a plain character class (no leading lookbehind) so the regex engine can
# scan quickly; the boundary checks come right after the first character.
_CARD = r"(?P<credit_card>\d(?<![\d.-]\d)(?:[ -]?\d){12,18}(?![\d-]))"
_IP = r"(?P<ip>\d{1,3}(?:\.\d{1,3}){3})"
_IP6 = r"(?P<ip>[0-9a-fA-F:]*:[0-9a-fA-F:]*:[0-9a-fA-F]+)"
_PHONE = (
    r"(?P<phone>\+(?<![\w+]\+)\d{1,3}[ .-]?(?:\(\d{1,4}\)[ .-]?)?\d{1,4}(?:[ .-]?\d{2,4}){2,4}(?!\w)"
    r"|\((?<![\w.-]\()\d{3}\)[ .-]?\d{3}[ .-]\d{4}(?![\w-])"
    r"|\d(?<![\w.-]\d)\d{2}[.-]\d{3}[.-]\d{4}(?![\w.-]))"
)
_SECRET_RE, _SECRET_LONG_RE, _SECRET_KV_RE, _EMAIL_RE, _CARD_RE, _PHONE_RE, _IP_RE, _IP6_RE = (
    re.compile(p) for p in (_SECRET, _SECRET_LONG, _SECRET_KV, _EMAIL, _CARD, _PHONE, _IP, _IP6))
# One byte-level pass classifies every character: digits -> "0", other characters a key can hold -> "a",
# everything else -> " ". Counting and substring search on the result are C-speed.
_CLASS = bytes(48 if 48 <= b <= 57 else 97 if (65 <= b <= 90 or 97 <= b <= 122 or b in b"+/_=-") else 32
               for b in range(256))
_RUN15 = b"a" * 15
_URL_RE = re.compile(r"\b(?:https?|ftp)://[^\s<>\"')\]]+")
# Every known key format is one unbroken token of 15+ characters (AKIA + 16, xoxb-..., sk-...).
_SECRET_PREFIXES = ("-----BEGIN", "sk-", "sk_live_", "AKIA", "ghp_", "gho_", "ghu_", "ghs_", "ghr_", "github_pat_",
                    "xox", "AIza", "hf_", "glpat-", "eyJ")


def _scans(text: str):
    """The patterns worth running on `text`. Cheap guards (substring counts, one simple scan) come
    first: the full patterns use lookbehinds, which defeat the regex engine's fast scanning, and
    most text holds no personal data at all."""
    classes = text.encode("utf-8", "surrogatepass").translate(_CLASS)
    digits = classes.count(b"0")
    if "-----BEGIN" in text or (len(text) >= 15 and _RUN15 in (classes.replace(b"0", b"a") if digits else classes)):
        yield _SECRET_RE
        yield _SECRET_LONG_RE
    if "=" in text:
        yield _SECRET_KV_RE
    if "@" in text:
        yield _EMAIL_RE
    if digits >= 13:
        yield _CARD_RE
    if digits >= 8:
        yield _PHONE_RE
    if digits >= 4 and "." in text:
        yield _IP_RE
    if "::" in text or text.count(":") >= 7:
        yield _IP6_RE


def luhn_ok(digits: str) -> bool:
    total, parity = 0, len(digits) % 2
    for i, ch in enumerate(digits):
        d = ord(ch) - 48
        if i % 2 == parity:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return total % 10 == 0


def _valid_ip(value: str) -> bool:
    import ipaddress

    try:
        ip = ipaddress.ip_address(value)
    except ValueError:
        return False
    # "::1"-like fragments of C++ (std::max) never parse; tiny v6 forms such as "a::b" do, so
    # require a v6 address to have some substance.
    return ip.version == 4 or value.count(":") >= 3


def _entropy(s: str) -> float:
    counts = Counter(s)
    return -sum(n / len(s) * math.log2(n / len(s)) for n in counts.values())


def _accept(kind: str, value: str) -> bool:
    if kind == "credit_card":
        digits = re.sub(r"\D", "", value)
        return 13 <= len(digits) <= 19 and luhn_ok(digits) and len(set(digits)) > 1
    if kind == "ip":
        return _valid_ip(value)
    if kind == "phone":
        return 8 <= sum(c.isdigit() for c in value) <= 15
    if kind == "secret" and not value.startswith(_SECRET_PREFIXES):
        # A generic long token after '=' or ':' counts only when it looks random (not a word or a hex hash).
        return _entropy(value) > 4.2 and any(c.isdigit() for c in value) and any(c.isalpha() for c in value)
    return True


def _ip_bounded(text: str, start: int, end: int) -> bool:
    """Not a piece of a longer dotted number (a version like 1.2.3.4.5) or a longer word."""
    before = text[start - 1] if start else " "
    after = text[end : end + 2]
    if before.isalnum() or before in ".:":
        return False
    return not (after[:1].isalnum() or (after[:1] in ".:" and after[1:2].isalnum()))


def redact(value: str) -> str:
    """What a report may show of a found value: enough to recognise it, not enough to leak it."""
    if len(value) <= 4:
        return "*" * len(value)
    keep = max(1, min(4, len(value) // 6))
    return value[:keep] + "*" * (len(value) - 2 * keep) + value[-keep:]


def find(text: str, kinds: tuple[str, ...] = KINDS) -> list[tuple[str, int, int]]:
    """(kind, start, end) of every finding, in order."""
    if not text:
        return []
    out = []
    urls: list[tuple[int, int]] | None = None
    for pattern in _scans(text):
        for m in pattern.finditer(text):
            kind = "secret" if m.lastgroup == "secret_kv" else m.lastgroup
            start, end = m.span(m.lastgroup)
            if kind == "ip" and not _ip_bounded(text, start, end):
                continue
            if pattern is _SECRET_LONG_RE:
                # a long random-looking path or file name inside a URL is an address, not a key
                urls = [u.span() for u in _URL_RE.finditer(text)] if urls is None else urls
                if any(a <= start < b for a, b in urls):
                    continue
            if kind in kinds and (m.lastgroup == "secret_kv" or _accept(kind, text[start:end])):
                out.append((kind, start, end))
    out.sort(key=lambda f: f[1])
    # Two patterns can claim overlapping text (an IP inside a URL token): keep the first span.
    kept: list[tuple[str, int, int]] = []
    for f in out:
        if not kept or f[1] >= kept[-1][2]:
            kept.append(f)
    return kept


def mask(text: str, found: list[tuple[str, int, int]]) -> str:
    parts, pos = [], 0
    for kind, start, end in found:
        parts.append(text[pos:start])
        parts.append(PLACEHOLDER[kind])
        pos = end
    parts.append(text[pos:])
    return "".join(parts)
