"""Search queries: the user's words -> an AST -> SQL over the search index.

The syntax is FTS5's, made safe: every term is quoted (as Datasette does), so
punctuation in a term (``sk-ant``, ``o'brien``, ``a:b``) is text, never syntax.
What stays syntax: ``"a phrase"``, a trailing ``*`` for a prefix, ``AND``,
``OR``, ``NOT`` (binary: ``a NOT b``), parentheses; terms side by side mean AND.

Each term is routed to the table that can find it (see ``route``): words in
scripts that separate words with spaces go to ``body_words`` (diacritics and
case folded); CJK, emoji and other symbols go to ``body_grams`` (substring,
three characters or more); shorter ones of those are found by scanning the text.
The boolean structure is evaluated as set operations over body ids, and a
body's rank is the sum of bm25 over the tables its positive terms hit.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from crawler.errors import UsageError

__all__ = ["Node", "Op", "Term", "compile_ids", "parse", "positive_terms", "route"]

_TOKEN = re.compile(r'\s*(?:(")([^"]*)("?)|(\()|(\))|([^\s()"]+))')
_NO_SPACE_SCRIPTS = ("CJK", "HIRAGANA", "KATAKANA", "HANGUL", "THAI", "LAO", "KHMER", "MYANMAR")


@dataclass(frozen=True)
class Term:
    text: str
    prefix: bool = False
    phrase: bool = False


@dataclass(frozen=True)
class Op:
    op: str  # AND | OR | NOT
    left: Node
    right: Node


Node = Term | Op


def _tokens(query: str) -> list[str | Term]:
    out: list[str | Term] = []
    pos = 0
    while pos < len(query):
        m = _TOKEN.match(query, pos)
        if m is None or m.end() == pos:
            break
        pos = m.end()
        if m.group(1):
            if m.group(2).strip():
                out.append(Term(m.group(2), phrase=True))
        elif m.group(4) or m.group(5):
            out.append(m.group(4) or m.group(5))
        else:
            word = m.group(6)
            if word in ("AND", "OR", "NOT"):
                out.append(word)
            elif word.endswith("*") and word.strip("*"):
                out.append(Term(word.rstrip("*"), prefix=True))
            elif word.strip("*"):
                out.append(Term(word))
    return out


class _Parser:
    def __init__(self, tokens: list[str | Term]) -> None:
        self.tokens = tokens
        self.i = 0

    def peek(self) -> str | Term | None:
        return self.tokens[self.i] if self.i < len(self.tokens) else None

    def take(self) -> str | Term | None:
        tok = self.peek()
        self.i += 1
        return tok

    def or_expr(self) -> Node:
        node = self.and_expr()
        while self.peek() == "OR":
            self.take()
            node = Op("OR", node, self.and_expr())
        return node

    def and_expr(self) -> Node:
        node = self.not_expr()
        while (tok := self.peek()) is not None and tok not in ("OR", ")"):
            if tok == "AND":
                self.take()
            node = Op("AND", node, self.not_expr())
        return node

    def not_expr(self) -> Node:
        node = self.primary()
        while self.peek() == "NOT":
            self.take()
            node = Op("NOT", node, self.primary())
        return node

    def primary(self) -> Node:
        tok = self.take()
        if isinstance(tok, Term):
            return tok
        if tok == "(":
            node = self.or_expr()
            if self.take() != ")":
                raise UsageError("search: a '(' is never closed")
            return node
        if tok is None:
            raise UsageError("search: the query ends where a term was expected")
        raise UsageError(
            f"search: {tok!r} where a term was expected (NOT is binary: 'budget NOT draft')"
        )


def parse(query: str) -> Node:
    """The query's AST; a query with no term, or misplaced operators, is a usage error."""
    tokens = _tokens(query)
    if not any(isinstance(t, Term) for t in tokens):
        raise UsageError("search: the query has no term to look for")
    parser = _Parser(tokens)
    node = parser.or_expr()
    if parser.peek() is not None:
        raise UsageError(f"search: unexpected {parser.peek()!r} in the query")
    return node


def _is_spaced_word_char(ch: str) -> bool:
    if unicodedata.category(ch)[0] not in "LN":
        return False
    name = unicodedata.name(ch, "")
    return not any(name.startswith(s) for s in _NO_SPACE_SCRIPTS)


def route(term: Term) -> str:
    """``words``, ``grams`` or ``scan``: which table can find exactly this term."""
    chars = [c for c in term.text if not c.isspace()]
    wordish = [c for c in chars if _is_spaced_word_char(c)]
    # Punctuation between word characters is a token boundary for unicode61 too.
    if wordish and all(_is_spaced_word_char(c) or unicodedata.category(c)[0] == "P" for c in chars):
        return "words"
    return "grams" if len(term.text.strip()) >= 3 else "scan"


def fts_string(text: str) -> str:
    """An FTS5 string literal: double quotes doubled."""
    return '"' + text.replace('"', '""') + '"'


def _leaf_sql(term: Term) -> tuple[str, list[str]]:
    where = route(term)
    if where == "words":
        match = fts_string(term.text) + ("*" if term.prefix else "")
        return "SELECT rowid AS id FROM body_words WHERE body_words MATCH ?", [match]
    if where == "grams":
        return "SELECT rowid AS id FROM body_grams WHERE body_grams MATCH ?", [
            fts_string(term.text.strip())
        ]
    return "SELECT id FROM bodies WHERE instr(lower(text), ?) > 0", [term.text.strip().lower()]


_SET_OPS = {"AND": "INTERSECT", "OR": "UNION", "NOT": "EXCEPT"}


def compile_ids(node: Node) -> tuple[str, list[str]]:
    """A SELECT of the ids of the bodies that match ``node``."""
    if isinstance(node, Term):
        return _leaf_sql(node)
    left, lp = compile_ids(node.left)
    right, rp = compile_ids(node.right)
    # Compound selects bind left to right: wrap each side so the tree decides.
    sql = f"SELECT id FROM ({left}) {_SET_OPS[node.op]} SELECT id FROM ({right})"
    return sql, lp + rp


def positive_terms(node: Node) -> list[Term]:
    """The terms that make a body match (not those under the right side of a NOT)."""
    if isinstance(node, Term):
        return [node]
    if node.op == "NOT":
        return positive_terms(node.left)
    return positive_terms(node.left) + positive_terms(node.right)


def ranking_match(terms: list[Term], table: str) -> str | None:
    """An OR of the positive terms routed to ``table``: what bm25 and snippets look at."""
    parts = []
    for t in terms:
        if route(t) != table:
            continue
        text = t.text if table == "words" else t.text.strip()
        parts.append(fts_string(text) + ("*" if t.prefix and table == "words" else ""))
    return " OR ".join(parts) if parts else None
