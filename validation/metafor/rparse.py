"""A parser for the subset of R that metafor case scripts (``make.R``) are written in.

Hand-written (about 250 lines) because no maintained Python package parses R source
into a tree we can evaluate: rpy2 needs an R installation, which is exactly what the
validation must run without.  The grammar follows R's operator precedence
(``?Syntax``); newlines end an expression except inside ``(`` / ``[`` or after an
operator, as in R.

Nodes are tuples: ``("num", x)``, ``("str", s)``, ``("ident", name)``,
``("call", fn, args)`` with ``args = [(name | None, node | None)]``, ``("index", x, args)``,
``("index2", x, args)``, ``("dollar", x, name)``, ``("binop", op, a, b)``,
``("unop", op, a)``, ``("assign", target, value, superassign)``,
``("function", params, body)``, ``("if", cond, then, else)``, ``("for", var, seq, body)``,
``("while", cond, body)``, ``("block", stmts)``, ``("formula", lhs, rhs)``.
"""

from __future__ import annotations

import re
from typing import Any

__all__ = ["RSyntaxError", "deparse", "parse"]

Node = tuple[Any, ...]


class RSyntaxError(Exception):
    """The script is not R this parser understands (names the line)."""


_TOKEN = re.compile(
    r"""
    (?P<ws>[ \t\r\f]+|\#[^\n]*)
  | (?P<nl>\n)
  | (?P<num>(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?L?|0[xX][0-9a-fA-F]+)
  | (?P<str>"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*')
  | (?P<ident>(?:[A-Za-z]|\.(?![0-9]))[\w.]*|`[^`]+`)
  | (?P<op>%[^%]*%|<<-|<-|->|\|\||&&|==|!=|<=|>=|\[\[|::|[-+*/^<>=!&|~$@:?,;()\[\]{}])
    """,
    re.VERBOSE,
)

_BINARY = {
    "?": (1, "right"),
    "=": (2, "right"),
    "<-": (3, "right"),
    "<<-": (3, "right"),
    "~": (4, "left"),
    "||": (5, "left"),
    "|": (5, "left"),
    "&&": (6, "left"),
    "&": (6, "left"),
    "==": (8, "left"),
    "!=": (8, "left"),
    "<": (8, "left"),
    ">": (8, "left"),
    "<=": (8, "left"),
    ">=": (8, "left"),
    "+": (9, "left"),
    "-": (9, "left"),
    "*": (10, "left"),
    "/": (10, "left"),
    "%%": (11, "left"),
    ":": (12, "left"),
    "^": (14, "right"),
}
_UNARY_NOT = 7
_UNARY_SIGN = 13
_POSTFIX = 15
_ESCAPES = {"n": "\n", "t": "\t", "\\": "\\", '"': '"', "'": "'", "r": "\r", "0": "\0"}


def _unescape(s: str) -> str:
    return re.sub(r"\\(.)", lambda m: _ESCAPES.get(m.group(1), "\\" + m.group(1)), s[1:-1])


def _tokenize(src: str) -> list[tuple[str, str, int]]:
    out: list[tuple[str, str, int]] = []
    pos, line = 0, 1
    while pos < len(src):
        m = _TOKEN.match(src, pos)
        if m is None:
            raise RSyntaxError(f"line {line}: cannot read {src[pos : pos + 20]!r}")
        kind = m.lastgroup or ""
        text = m.group()
        if kind == "nl":
            out.append(("nl", text, line))
            line += 1
        elif kind != "ws":
            out.append((kind, text, line))
        pos = m.end()
    out.append(("eof", "", line))
    return out


class _Parser:
    def __init__(self, src: str) -> None:
        self.toks = _tokenize(src)
        self.i = 0
        self.ctx: list[str] = ["{"]  # "(" or "[": newlines are not separators

    # -- token helpers
    def _skip_nl(self) -> None:
        while self.toks[self.i][0] == "nl":
            self.i += 1

    def peek(self) -> tuple[str, str, int]:
        if self.ctx[-1] in "([":
            self._skip_nl()
        return self.toks[self.i]

    def next(self) -> tuple[str, str, int]:
        t = self.peek()
        self.i += 1
        return t

    def expect(self, text: str) -> None:
        t = self.next()
        if t[1] != text:
            raise RSyntaxError(f"line {t[2]}: expected {text!r}, found {t[1] or 'end of file'!r}")

    # -- grammar
    def program(self) -> list[Node]:
        stmts = []
        while True:
            self._skip_nl_and_semis()
            if self.peek()[0] == "eof":
                return stmts
            stmts.append(self.expr(0))
            t = self.peek()
            if t[0] not in ("nl", "eof") and t[1] != ";":
                raise RSyntaxError(f"line {t[2]}: unexpected {t[1]!r}")

    def _skip_nl_and_semis(self) -> None:
        while self.toks[self.i][0] == "nl" or self.toks[self.i][1] == ";":
            self.i += 1

    def expr(self, rbp: int) -> Node:
        left = self.prefix()
        while True:
            t = self.peek()
            op = t[1] if t[0] == "op" else None
            if op in ("(", "[", "[[", "$", "@"):
                left = self.postfix(left, op)
                continue
            if op is None:
                return left
            if op.startswith("%") and op.endswith("%") and len(op) >= 2:
                bp, assoc = 11, "left"
            elif op in _BINARY:
                bp, assoc = _BINARY[op]
            elif op == "->":
                bp, assoc = 3, "left"
            else:
                return left
            if bp <= rbp:
                return left
            self.i += 1
            self._skip_nl()
            right = self.expr(bp - 1 if assoc == "right" else bp)
            if op in ("<-", "=", "<<-"):
                left = ("assign", left, right, op == "<<-")
            elif op == "->":
                left = ("assign", right, left, False)
            elif op == "~":
                left = ("formula", left, right)
            else:
                left = ("binop", op, left, right)

    def prefix(self) -> Node:
        kind, text, line = self.next()
        if kind == "num":
            if text.lower().startswith("0x"):
                return ("num", float(int(text, 16)))
            return ("num", float(text.rstrip("L")))
        if kind == "str":
            return ("str", _unescape(text))
        if kind == "ident":
            name = text.strip("`")
            if name == "function":
                return self.function()
            if name == "if":
                return self.if_()
            if name == "for":
                return self.for_()
            if name == "while":
                self.expect("(")
                self.ctx.append("(")
                cond = self.expr(0)
                self.ctx.pop()
                self.expect(")")
                self._skip_nl()
                return ("while", cond, self.expr(2))
            if name == "repeat":
                raise RSyntaxError(f"line {line}: '{name}' is not supported")
            if self.toks[self.i][1] == "::":  # pkg::name -> name
                self.i += 1
                name = self.next()[1].strip("`")
            return ("ident", name)
        if text == "(":
            self.ctx.append("(")
            e = self.expr(0)
            self.ctx.pop()
            self.expect(")")
            return ("paren", e)
        if text == "{":
            self.ctx.append("{")
            stmts = []
            while True:
                self._skip_nl_and_semis()
                if self.toks[self.i][1] == "}":
                    self.i += 1
                    break
                stmts.append(self.expr(0))
            self.ctx.pop()
            return ("block", stmts)
        if text in ("-", "+"):
            return ("unop", text, self.expr(_UNARY_SIGN))
        if text == "!":
            return ("unop", "!", self.expr(_UNARY_NOT))
        if text == "~":
            return ("formula", None, self.expr(4))
        raise RSyntaxError(f"line {line}: unexpected {text or 'end of file'!r}")

    def args(self, close: str) -> list[tuple[str | None, Node | None]]:
        out: list[tuple[str | None, Node | None]] = []
        self.ctx.append("(")
        if self.peek()[1] == close:
            self.i += 1
            self.ctx.pop()
            return out
        while True:
            t = self.peek()
            name = None
            j = self.i + 1
            while self.toks[j][0] == "nl":
                j += 1
            if t[0] in ("ident", "str") and self.toks[j][1] == "=":
                name = t[1].strip("`") if t[0] == "ident" else _unescape(t[1])
                self.i = j + 1
            t = self.peek()
            if t[1] in (",", close):
                out.append((name, None))
            else:
                out.append((name, self.expr(2)))
            t = self.next()
            if t[1] == close:
                break
            if t[1] != ",":
                raise RSyntaxError(f"line {t[2]}: expected ',' or {close!r}, found {t[1]!r}")
        self.ctx.pop()
        return out

    def postfix(self, left: Node, op: str) -> Node:
        self.i += 1
        if op == "(":
            return ("call", left, self.args(")"))
        if op == "[":
            return ("index", left, self.args("]"))
        if op == "[[":
            a = self.args("]")
            self.expect("]")
            return ("index2", left, a)
        t = self.next()
        name = _unescape(t[1]) if t[0] == "str" else t[1].strip("`")
        return ("dollar", left, name)

    def function(self) -> Node:
        self.expect("(")
        params: list[tuple[str, Node | None]] = []
        self.ctx.append("(")
        while self.peek()[1] != ")":
            t = self.next()
            name = t[1].strip("`")
            default = None
            if self.peek()[1] == "=":
                self.i += 1
                default = self.expr(2)
            params.append((name, default))
            if self.peek()[1] == ",":
                self.i += 1
        self.ctx.pop()
        self.expect(")")
        self._skip_nl()
        return ("function", params, self.expr(2))

    def if_(self) -> Node:
        self.expect("(")
        self.ctx.append("(")
        cond = self.expr(0)
        self.ctx.pop()
        self.expect(")")
        self._skip_nl()
        then = self.expr(2)
        j = self.i
        while self.toks[j][0] == "nl":
            j += 1
        if self.toks[j][1] == "else":
            self.i = j + 1
            self._skip_nl()
            return ("if", cond, then, self.expr(2))
        return ("if", cond, then, None)

    def for_(self) -> Node:
        self.expect("(")
        self.ctx.append("(")
        var = self.next()[1]
        if self.next()[1] != "in":
            raise RSyntaxError("for loop without 'in'")
        seq = self.expr(0)
        self.ctx.pop()
        self.expect(")")
        self._skip_nl()
        return ("for", var, seq, self.expr(2))


def parse(src: str) -> list[Node]:
    """Parse R source into a list of statement nodes."""
    return _Parser(src).program()


def deparse(node: Node | None) -> str:
    """R-like source text of ``node`` (used for formulas and error messages)."""
    if node is None:
        return ""
    kind = node[0]
    if kind == "num":
        x = node[1]
        return str(int(x)) if float(x).is_integer() else repr(x)
    if kind == "str":
        return '"' + node[1].replace('"', '\\"') + '"'
    if kind == "ident":
        return node[1]
    if kind == "paren":
        return f"({deparse(node[1])})"
    if kind == "call":
        args = ", ".join((f"{n} = " if n else "") + deparse(a) for n, a in node[2])
        return f"{deparse(node[1])}({args})"
    if kind in ("index", "index2"):
        o, c = ("[", "]") if kind == "index" else ("[[", "]]")
        return deparse(node[1]) + o + ", ".join(deparse(a) for _, a in node[2]) + c
    if kind == "dollar":
        return f"{deparse(node[1])}${node[2]}"
    if kind == "binop":
        op = node[1]
        sep = "" if op in (":", "^") else " "
        return f"{deparse(node[2])}{sep}{op}{sep}{deparse(node[3])}"
    if kind == "unop":
        return f"{node[1]}{deparse(node[2])}"
    if kind == "formula":
        lhs = deparse(node[1]) + " " if node[1] is not None else ""
        return f"{lhs}~ {deparse(node[2])}"
    if kind == "assign":
        return f"{deparse(node[1])} <- {deparse(node[2])}"
    if kind == "function":
        return "function(" + ", ".join(p for p, _ in node[1]) + ") ..."
    if kind == "block":
        return "{ ... }"
    if kind == "value":
        return "<value>"
    return f"<{kind}>"
