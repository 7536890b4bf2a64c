"""Which input changes replace a resource: the table `offline/replacements_gen.py` generated.

`offline/replacements.json` is generated from the Terraform AWS provider source that pulumi-aws
bridges (see the generator's docstring for where and how); this module only reads it.
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

TABLE = Path(__file__).resolve().parent / "replacements.json"


class UnknownResourceTypeError(LookupError):
    """The program uses a type the table lacks: regenerate it (python -m offline.replacements_gen)."""


@dataclass(frozen=True)
class Replacements:
    terraform_type: str
    replace: frozenset[str]  # Pulumi input paths, dotted for nested ones
    conditional: frozenset[str]
    autoname: str | None

    def forcing(self, prop: str) -> list[str]:
        """The replace-forcing paths at or under the top-level input `prop`."""
        return sorted(path for path in self.replace if path == prop or path.startswith(prop + "."))


@functools.cache
def _table() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(TABLE.read_text(encoding="utf-8"))
    return data


def source() -> dict[str, str]:
    return dict(_table()["source"])


def known_types() -> frozenset[str]:
    return frozenset(_table()["types"])


def for_type(type_: str) -> Replacements:
    entry = _table()["types"].get(type_)
    if entry is None:
        raise UnknownResourceTypeError(
            f"{type_} is not in {TABLE.name}: regenerate it with `python -m offline.replacements_gen` "
            "(see its docstring) so the plan knows which of its inputs force a replacement"
        )
    return Replacements(
        terraform_type=entry["terraform"],
        replace=frozenset(entry["replace"]),
        conditional=frozenset(entry.get("conditional", ())),
        autoname=entry.get("autoname"),
    )
