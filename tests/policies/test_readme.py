"""policies/README.md's rule table is exactly what the running pack reports."""

from __future__ import annotations

from offline.analyzer import PolicyAnalyzer
from policies import readme


def test_readme_table_matches_the_pack(analyzer: PolicyAnalyzer) -> None:
    _, _, policies = analyzer.info()
    text = readme.README.read_text(encoding="utf-8")
    assert readme.current_table(text) == readme.render(policies), "run `python -m policies.readme`"


def test_splice_replaces_only_the_generated_block() -> None:
    text = f"intro\n{readme.BEGIN}\nold table\n{readme.END}\noutro\n"
    assert readme.splice(text, "| new |") == f"intro\n{readme.BEGIN}\n| new |\n{readme.END}\noutro\n"
