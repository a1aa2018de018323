"""Words as the catalog indexes and searches them: split, case- and accent-folded, plurals
searched as their singulars, and a search's words as an FTS5 or PostgreSQL ``tsquery`` query in
which no user text is syntax."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass

#: a query uses its first words only, each cut to this length (index and query alike)
MAX_QUERY_WORDS = 16
MAX_WORD = 64
#: the last query word matches as a prefix from this length on ("popul" -> "popularity")
MIN_PREFIX = 2

#: a word: letters and digits (``_`` splits ``title_popularity``)
WORD = re.compile(r"[^\W_]+")
#: the combining diacritical marks (é = e + U+0301); others, like kana voicing marks, are kept
_ACCENTS = re.compile("[\u0300-\u036f]")
#: FTS operators typed as words: not syntax here, and not words to require either
_OPERATORS = re.compile(r"(?<![^\W_])(?:AND|OR|NOT|NEAR)(?![^\W_])")


def search_words(text: str) -> list[str]:
    """The words of ``text`` as the catalog indexes them: ``"Café_Sales-2024"`` -> cafe, sales, 2024."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    plain = unicodedata.normalize("NFC", _ACCENTS.sub("", decomposed))
    return [word[:MAX_WORD] for word in WORD.findall(plain)]


@dataclass(frozen=True)
class Query:
    """A search's words; the last one matches as a prefix when ``prefix`` is set. A document
    must have every word, or any of them with ``any_word``."""

    words: tuple[str, ...]
    prefix: bool
    any_word: bool = False

    @classmethod
    def parse(cls, text: str | None) -> Query | None:
        words = tuple(dict.fromkeys(search_words(_OPERATORS.sub(" ", text or ""))))[:MAX_QUERY_WORDS]
        return cls(words, len(words[-1]) >= MIN_PREFIX) if words else None

    def forms(self, index: int) -> tuple[str, ...]:
        """The forms the query's word at ``index`` is searched in: itself and its singulars."""
        return word_forms(self.words[index])

    def matches(self, word: str) -> bool:
        """Does one indexed word match one of the query's?"""
        last = len(self.words) - 1
        return any(
            word == form or (self.prefix and i == last and word.startswith(form))
            for i in range(len(self.words))
            for form in self.forms(i)
        )


def word_forms(word: str) -> tuple[str, ...]:
    """A query word and its singulars, so that ``viewers`` finds ``viewer_id``: English plurals only
    (``titles`` -> ``title``; ``categories`` -> ``category`` and ``movies`` -> ``movie``, each
    with the other's form too, which finds nothing; ``class`` and ``status`` stay)."""
    if len(word) > 4 and word.endswith("ies"):
        return (word, word[:-1], word[:-3] + "y")
    if len(word) > 3 and word.endswith("s") and not word.endswith(("ss", "us", "is")):
        return (word, word[:-1])
    return (word,)


def _terms(query: Query, quote: Callable[[str], str], star: str, alternative: str) -> list[str]:
    """Each query word as a term: its forms quoted, the last word's with ``star`` (a prefix),
    two forms joined by ``alternative`` in parentheses."""
    terms = []
    for i in range(len(query.words)):
        suffix = star if query.prefix and i == len(query.words) - 1 else ""
        forms = [quote(form) + suffix for form in query.forms(i)]
        terms.append(forms[0] if len(forms) == 1 else "(" + alternative.join(forms) + ")")
    return terms


def fts5_query(query: Query) -> str:
    """``"total" AND ("sales"* OR "sale"*)``: every word a quoted string (``"`` doubled), so none is
    syntax, with its singular as an alternative; the last one a prefix."""
    terms = _terms(query, lambda w: '"' + w.replace('"', '""') + '"', "*", " OR ")
    return (" OR " if query.any_word else " AND ").join(terms)  # FTS5 wants AND after a group


def tsquery(query: Query) -> str:
    """``'total' & ('sales':* | 'sale':*)``: every word a quoted lexeme (``'`` and ``\\`` doubled),
    with its singular as an alternative; the last one a prefix."""
    terms = _terms(query, lambda w: "'" + w.replace("\\", "\\\\").replace("'", "''") + "'", ":*", " | ")
    return (" | " if query.any_word else " & ").join(terms)


__all__ = [
    "MAX_QUERY_WORDS",
    "MAX_WORD",
    "MIN_PREFIX",
    "Query",
    "fts5_query",
    "search_words",
    "tsquery",
    "word_forms",
]
