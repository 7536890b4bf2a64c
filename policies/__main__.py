"""Entry point of the CrossGuard pack: builds the PolicyPack from the rule modules and serves it.

How it is launched: `pulumi preview --policy-pack policies` runs `python -u -m pulumi.policy
<engine-address> <pack dir>` (from the virtualenv named in PulumiPolicy.yaml) with the pack directory
as cwd; pulumi.policy executes this file with runpy, and PolicyPack() prints the gRPC port on stdout
and serves until the engine kills it. offline/analyzer.py launches it the same way.

Imports: the rules live in the package `crossguard` next to this file and import each other only
relatively. runpy puts the pack directory on sys.path[0]; the insert below guarantees the same when
the file is run any other way (`python policies/__main__.py`, runpy on the file path), so
`import crossguard` always resolves to this directory's package, never to the repository root.
"""

import sys
from pathlib import Path

if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent))

    from crossguard import PACK_DESCRIPTION, PACK_NAME, all_policies  # type: ignore[import-not-found,unused-ignore]
    from pulumi_policy import EnforcementLevel, PolicyPack

    PolicyPack(
        name=PACK_NAME,
        description=PACK_DESCRIPTION,
        policies=all_policies(),
        enforcement_level=EnforcementLevel.MANDATORY,
    )
