"""Text from files on its way to the console: one line, no terminal escape codes, no control characters."""

from __future__ import annotations

import re
import unicodedata

_ESCAPES = re.compile(r"\x1b(?:\[[0-?]*[ -/]*[@-~]|\][^\x07\x1b]*(?:\x07|\x1b\\)?|[@-Z\\-_])|\x9b[0-?]*[ -/]*[@-~]")


def printable(text: object) -> str:
    """``text`` with escape sequences removed and every other control or format character (newlines,
    tabs, carriage returns, bidi overrides) made a space; runs of spaces kept as they were."""
    cleaned = _ESCAPES.sub("", str(text))
    return "".join(" " if unicodedata.category(ch) in ("Cc", "Cf", "Zl", "Zp") else ch for ch in cleaned)
