"""``python -m client.versions --agent-id ID [--delete]``: delete agent versions no alias routes to.

Every definition change makes a new alias and so a new numbered version (components/agent/classic.py);
the old versions stay until deleted and count against the per-agent quota of versions. This lists the
versions that no alias of the agent routes to (never DRAFT) and, with ``--delete``, deletes them with
DeleteAgentVersion, keeping Bedrock's in-use check on (skipResourceInUseCheck false), so a version an
alias starts using meanwhile is refused, not deleted. Uses the caller's AWS credentials and region.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterator, Sequence
from typing import Any

DRAFT = "DRAFT"


def _pages(client: Any, operation: str, key: str, agent_id: str) -> Iterator[dict[str, Any]]:
    token: str | None = None
    while True:
        request: dict[str, Any] = {"agentId": agent_id, **({"nextToken": token} if token else {})}
        response = getattr(client, operation)(**request)
        yield from response[key]
        token = response.get("nextToken")
        if not token:
            return


def referenced_versions(client: Any, agent_id: str) -> set[str]:
    """The versions some alias of the agent routes to (an alias can route to more than one)."""
    return {
        route["agentVersion"]
        for alias in _pages(client, "list_agent_aliases", "agentAliasSummaries", agent_id)
        for route in alias.get("routingConfiguration", [])
        if route.get("agentVersion")
    }


def unreferenced_versions(client: Any, agent_id: str) -> list[str]:
    """Numbered versions no alias routes to, oldest first."""
    in_use = referenced_versions(client, agent_id)
    versions = [
        summary["agentVersion"]
        for summary in _pages(client, "list_agent_versions", "agentVersionSummaries", agent_id)
        if summary["agentVersion"] != DRAFT and summary["agentVersion"] not in in_use
    ]
    return sorted(versions, key=lambda version: int(version) if version.isdigit() else 0)


def delete_versions(client: Any, agent_id: str, versions: Sequence[str]) -> list[str]:
    """Delete each version (Bedrock refuses one that is in use); returns those deleted."""
    deleted = []
    for version in versions:
        client.delete_agent_version(agentId=agent_id, agentVersion=version, skipResourceInUseCheck=False)
        deleted.append(version)
    return deleted


def main(argv: Sequence[str] | None = None, client: Any = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m client.versions", description=__doc__.split("\n")[0])
    parser.add_argument("--agent-id", required=True, help="the agent (pulumi stack output agentId)")
    parser.add_argument("--region", help="the stack's region (default: the AWS CLI/SDK default)")
    parser.add_argument("--delete", action="store_true", help="delete them (default: only list them)")
    args = parser.parse_args(argv)
    if client is None:
        import boto3

        client = boto3.client("bedrock-agent", region_name=args.region)
    versions = unreferenced_versions(client, args.agent_id)
    if not versions:
        print(f"No version of agent {args.agent_id} is unreferenced.")
        return 0
    if not args.delete:
        print(f"Versions of agent {args.agent_id} no alias routes to: {', '.join(versions)}")
        print("Run again with --delete to delete them.")
        return 0
    deleted = delete_versions(client, args.agent_id, versions)
    print(f"Deleted versions {', '.join(deleted)} of agent {args.agent_id}.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
