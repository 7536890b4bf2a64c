"""Where sentences end in an answer: the guardrail's segments (agentcore) and the text a citation
marker supports (citations) are cut at the same boundaries."""

from __future__ import annotations

import re
from typing import Final

_SENTENCE_END = re.compile(r"[.!?\n][\"')\]]*\s+")
_WHITESPACE = re.compile(r"\s+")
# A period after these (or after a single capital, an initial) does not end the sentence.
_ABBREVIATIONS: Final = frozenset(
    {"mr", "mrs", "ms", "dr", "st", "jr", "sr", "prof", "mt", "vs", "e.g", "i.e", "cf", "approx"}
)


def sentence_ends(text: str) -> list[int]:
    """The offsets just after each sentence end of ``text`` (its punctuation, closers and whitespace)."""
    return [m.end() for m in _SENTENCE_END.finditer(text) if not _after_abbreviation(text, m)]


def sentence_cut(text: str, limit: int) -> int:
    """Where to cut held text so the segment is at most ``limit`` characters: after its last sentence
    end there, else its last whitespace there, else at ``limit`` (or its end, when shorter)."""
    spaces = [m.end() for m in _WHITESPACE.finditer(text)]
    for ends in (sentence_ends(text), spaces):
        fitting = [end for end in ends if end <= limit]
        if fitting:
            return fitting[-1]
    return min(len(text), limit)


def _after_abbreviation(text: str, match: re.Match[str]) -> bool:
    if text[match.start()] != ".":
        return False
    words = text[max(0, match.start() - 12) : match.start()].split()
    word = words[-1].lstrip("(\"'[") if words else ""
    return word.lower() in _ABBREVIATIONS or (len(word) == 1 and word.isupper())
