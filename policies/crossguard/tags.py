"""Tagging: cost allocation and ownership on every taggable resource."""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from typing import Any

from . import tokens
from .framework import ADVISORY, UNKNOWN, Config, Resource, RuleSet, Setting, as_list, is_unknown

rules = RuleSet()

REQUIRED_TAGS = Setting(
    "requiredTags",
    {"type": "array", "items": {"type": "string"}},
    ["Project", "Environment"],
    "Tag keys every taggable resource must carry (resource tags or provider default tags).",
)


def _default_tags(provider: Mapping[str, Any]) -> Any:
    """Provider `defaultTags.tags`. Explicit providers send non-string config JSON-encoded."""
    raw = provider.get("defaultTags")
    if is_unknown(raw):
        return UNKNOWN
    if isinstance(raw, str):
        try:
            raw = json.loads(raw)
        except ValueError:
            return {}
    tags = raw.get("tags") if isinstance(raw, Mapping) else None
    return tags if isinstance(tags, Mapping) or is_unknown(tags) else {}


def merged_tags(res: Resource) -> Mapping[str, Any] | None:
    """The tags a resource ends up with (provider default tags overlaid by its own); None if unknown."""
    own, inherited = res.get("tags"), _default_tags(res.provider_props)
    if is_unknown(own) or is_unknown(inherited):
        return None
    return {**inherited, **(own if isinstance(own, Mapping) else {})}


@rules.resource(
    "required-tags",
    types=tokens.TAGGABLE,
    level=ADVISORY,
    settings=[REQUIRED_TAGS],
    description=(
        "Taggable resources should carry the required tags (directly or through the provider's "
        "defaultTags) so cost, ownership and environment can be traced from any resource."
    ),
    remediation="Set default_tags on the aws.Provider (preferred) or tags on the resource.",
)
def required_tags(res: Resource, config: Config) -> Iterator[str]:
    merged = merged_tags(res)
    if merged is None:
        return
    missing = [str(key) for key in as_list(config["requiredTags"]) if merged.get(key) in (None, "")]
    if missing:
        yield f"{res.label} is missing tags: {', '.join(missing)}"
