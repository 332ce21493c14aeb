"""Ready-made searches for data-loss-prevention sweeps: ``crawler search --preset secrets``.

A preset is a list of patterns. Each pattern is a regular expression, confirmed
on the text itself, with an optional literal of three or more characters that
must appear in any match: the trigram index finds the few bodies holding that
literal, so only those are scanned. A pattern without one (card numbers) scans
every indexed body once; ``check`` weeds out shapes that are not the thing
(a card number must pass the Luhn checksum).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

__all__ = ["PRESETS", "Pattern"]


@dataclass(frozen=True)
class Pattern:
    name: str
    regex: re.Pattern[str]
    literals: tuple[str, ...] = ()
    check: Callable[[str], bool] | None = None

    def find(self, text: str) -> re.Match[str] | None:
        for m in self.regex.finditer(text):
            if self.check is None or self.check(m.group(0)):
                return m
        return None


def luhn_ok(shape: str) -> bool:
    digits = [int(c) for c in shape if c.isdigit()]
    if not 13 <= len(digits) <= 19:
        return False
    total = 0
    for i, d in enumerate(reversed(digits)):
        if i % 2:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


SECRETS = (
    Pattern(
        "anthropic-or-openai-key",
        re.compile(r"\bsk-(?:ant-)?(?:[a-z0-9]+-)?[A-Za-z0-9_\-]{20,}"),
        ("sk-",),
    ),
    Pattern("aws-access-key", re.compile(r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b"), ("AKIA", "ASIA")),
    Pattern(
        "github-token",
        re.compile(r"\bgh[pousr]_[A-Za-z0-9]{36,}\b"),
        ("ghp_", "gho_", "ghu_", "ghs_", "ghr_"),
    ),
    Pattern(
        "slack-token",
        re.compile(r"\bxox[abprs]-[A-Za-z0-9\-]{10,}"),
        ("xoxa", "xoxb", "xoxp", "xoxr", "xoxs"),
    ),
    Pattern("google-api-key", re.compile(r"\bAIza[0-9A-Za-z_\-]{35}"), ("AIza",)),
    Pattern(
        "private-key",
        re.compile(r"-----BEGIN (?:[A-Z]+ )?PRIVATE KEY(?: BLOCK)?-----"),
        ("PRIVATE KEY",),
    ),
    Pattern(
        "card-number",
        re.compile(r"(?<![\d-])\d(?:[ -]?\d){12,18}(?![\d-])"),
        check=luhn_ok,
    ),
)

PRESETS: dict[str, tuple[Pattern, ...]] = {"secrets": SECRETS}
