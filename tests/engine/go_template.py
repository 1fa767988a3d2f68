"""A small Go text/template interpreter and an Ollama Modelfile parser, for checking tuneui's Modelfiles.

It covers the part of text/template that Ollama templates use: text and `{{ }}` actions with `{{-`/`-}}`
trimming, if / else if / else / end, range with `$i, $x :=`, variables declared with `:=` and
assigned with `=` (Go 1.11+ semantics: assignment changes the variable where it was declared),
fields (`.Role`, `$.System`), string/number/bool constants, parentheses and the functions eq, ne,
and, or, not, len, slice. Truthiness follows Go: empty string, 0, false, nil and empty lists are false.
"""

from __future__ import annotations

import json
import re

_ACTION = re.compile(r"\{\{(-\s)?(.*?)(\s-)?\}\}", re.DOTALL)
_TOKEN = re.compile(r'\s*("(?:[^"\\]|\\.)*"|\(|\)|:=|=|,|\$?\.?[A-Za-z_][A-Za-z0-9_.]*|\$\.?[A-Za-z0-9_.]*|\.|-?\d+)')


class GoTemplateError(Exception):
    pass


def _lex(src: str) -> list:
    """[('text', str) | ('action', str)] with Go's trim markers applied to the neighbouring text."""
    out, pos = [], 0
    for m in _ACTION.finditer(src):
        text = src[pos:m.start()]
        if m.group(1):
            text = text.rstrip(" \t\r\n")
        out.append(("text", text))
        out.append(("action", m.group(2).strip()))
        pos = m.end()
        if m.group(3):
            rest = src[pos:]
            pos += len(rest) - len(rest.lstrip(" \t\r\n"))
    out.append(("text", src[pos:]))
    return [t for t in out if t != ("text", "")]


def _parse(items: list, i: int = 0, stop: tuple = ()) -> tuple[list, int, str | None]:
    """Nodes until one of the `stop` keywords (returned with its action text)."""
    nodes = []
    while i < len(items):
        kind, val = items[i]
        if kind == "text":
            nodes.append(("text", val))
            i += 1
            continue
        word = val.split(None, 1)[0] if val else ""
        if word in stop or (val.startswith("else") and "else" in stop):
            return nodes, i, val
        if word == "if":
            branches = []
            cond = val[2:].strip()
            while True:
                body, i, end = _parse(items, i + 1, ("end", "else"))
                branches.append((cond, body))
                if end == "end":
                    break
                cond = end[4:].strip()
                cond = cond[2:].strip() if cond.startswith("if") else None
            nodes.append(("if", branches))
            i += 1
        elif word == "range":
            body, i, end = _parse(items, i + 1, ("end",))
            nodes.append(("range", val[5:].strip(), body))
            i += 1
        elif word in ("end", "else"):
            raise GoTemplateError(f"unexpected {{{{ {val} }}}}")
        else:
            nodes.append(("expr", val))
            i += 1
    if stop:
        raise GoTemplateError("missing {{ end }}")
    return nodes, i, None


def _tokens(expr: str) -> list[str]:
    toks, pos = [], 0
    while pos < len(expr):
        if expr[pos:].strip() == "":
            break
        m = _TOKEN.match(expr, pos)
        if not m:
            raise GoTemplateError(f"cannot read {expr[pos:]!r}")
        toks.append(m.group(1))
        pos = m.end()
    return toks


def _truth(v) -> bool:
    return not (v is None or v is False or v == "" or v == 0 or (hasattr(v, "__len__") and len(v) == 0))


class _Scope:
    def __init__(self, parent=None):
        self.vars, self.parent = {}, parent

    def lookup(self, name):
        s = self
        while s is not None:
            if name in s.vars:
                return s
            s = s.parent
        raise GoTemplateError(f"undefined variable {name}")


_FUNCS = {
    "eq": lambda a, *b: any(a == x for x in b), "ne": lambda a, b: a != b, "not": lambda a: not _truth(a),
    "len": len, "slice": lambda x, i=None, j=None: x[i:j],
}


class Template:
    def __init__(self, src: str):
        self.nodes, _, _ = _parse(_lex(src))

    def execute(self, data) -> str:
        root = _Scope()
        root.vars["$"] = data
        out: list[str] = []
        self._run(self.nodes, data, root, out)
        return "".join(out)

    def _run(self, nodes, dot, scope, out):
        for node in nodes:
            if node[0] == "text":
                out.append(node[1])
            elif node[0] == "expr":
                value = self._statement(node[1], dot, scope)
                if value is not None:
                    out.append(value if isinstance(value, str) else str(value))
            elif node[0] == "if":
                for cond, body in node[1]:
                    if cond is None or _truth(self._eval(_tokens(cond), dot, scope)):
                        self._run(body, dot, _Scope(scope), out)
                        break
            elif node[0] == "range":
                head = node[1]
                names, expr = ([], head)
                if ":=" in head:
                    left, expr = head.split(":=", 1)
                    names = [n.strip() for n in left.split(",")]
                for idx, item in enumerate(self._eval(_tokens(expr), dot, scope) or []):
                    inner = _Scope(scope)
                    if len(names) == 2:
                        inner.vars[names[0]], inner.vars[names[1]] = idx, item
                    elif names:
                        inner.vars[names[0]] = item
                    self._run(node[2], item, inner, out)

    def _statement(self, text, dot, scope):
        toks = _tokens(text)
        if len(toks) > 2 and toks[0].startswith("$") and toks[1] in (":=", "="):
            value = self._eval(toks[2:], dot, scope)
            if toks[1] == ":=":
                scope.vars[toks[0]] = value
            else:
                scope.lookup(toks[0]).vars[toks[0]] = value
            return None
        return self._eval(toks, dot, scope)

    def _eval(self, toks, dot, scope):
        args, i = [], 0
        while i < len(toks):
            t = toks[i]
            if t == "(":
                depth, j = 1, i + 1
                while depth:
                    depth += {"(": 1, ")": -1}.get(toks[j], 0)
                    j += 1
                args.append(("v", self._eval(toks[i + 1:j - 1], dot, scope)))
                i = j
                continue
            args.append(("t", t))
            i += 1
        if args and args[0][0] == "t" and args[0][1] in ("and", "or"):
            values = [self._value(a, dot, scope) for a in args[1:]]
            result = values[0]
            for v in values:
                result = v
                if (args[0][1] == "and") != _truth(v):
                    break
            return result
        if args and args[0][0] == "t" and args[0][1] in _FUNCS:
            return _FUNCS[args[0][1]](*[self._value(a, dot, scope) for a in args[1:]])
        if len(args) != 1:
            raise GoTemplateError(f"cannot evaluate {' '.join(toks)}")
        return self._value(args[0], dot, scope)

    def _value(self, arg, dot, scope):
        kind, t = arg
        if kind == "v":
            return t
        if t.startswith('"'):
            return json.loads(t)
        if re.fullmatch(r"-?\d+", t):
            return int(t)
        if t in ("true", "false"):
            return t == "true"
        if t == ".":
            return dot
        base, path = dot, t
        if t.startswith("$"):
            name, _, path = t.partition(".")
            base = scope.lookup(name).vars[name]
        for part in filter(None, path.lstrip(".").split(".")):
            base = base.get(part) if isinstance(base, dict) else getattr(base, part)
        return base


def parse_modelfile(text: str) -> dict:
    """{'FROM': str, 'TEMPLATE': str, 'PARAMETER': [(name, value)], ...}, reading \"\"\"-quoted blocks."""
    out: dict = {"PARAMETER": []}
    pos = 0
    line_re = re.compile(r'[ \t]*([A-Za-z]+)[ \t]+(?:"""(.*?)"""|(.*?))[ \t]*(?:\n|$)', re.DOTALL)
    while pos < len(text):
        if text[pos] == "\n" or text.startswith("#", pos):
            nl = text.find("\n", pos)
            pos = len(text) if nl < 0 else nl + 1
            continue
        m = line_re.match(text, pos)
        if not m:
            raise ValueError(f"Modelfile: cannot read {text[pos:pos + 40]!r}")
        cmd, value = m.group(1).upper(), m.group(2) if m.group(2) is not None else m.group(3)
        if cmd == "PARAMETER":
            name, raw = value.split(None, 1)
            out["PARAMETER"].append((name, json.loads(raw) if raw.startswith('"') else raw))
        else:
            out[cmd] = value
        pos = m.end()
    return out
