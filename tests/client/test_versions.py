"""`python -m client.versions` against botocore's real bedrock-agent model (Stubber checks every request)."""

from __future__ import annotations

from datetime import UTC, datetime

import botocore.session
import pytest
from botocore.stub import Stubber

from client.versions import main, unreferenced_versions

AGENT_ID = "AGENT12345"
NOW = datetime(2026, 12, 1, tzinfo=UTC)


def version(number: str) -> dict[str, object]:
    return {
        "agentName": "bedrock-vpc-agent-dev",
        "agentStatus": "PREPARED",
        "agentVersion": number,
        "createdAt": NOW,
        "updatedAt": NOW,
    }


def alias(alias_id: str, *versions: str) -> dict[str, object]:
    return {
        "agentAliasId": alias_id,
        "agentAliasName": f"live-{alias_id.lower()}",
        "agentAliasStatus": "PREPARED",
        "createdAt": NOW,
        "updatedAt": NOW,
        "routingConfiguration": [{"agentVersion": v} for v in versions],
    }


@pytest.fixture
def stubbed() -> tuple[object, Stubber]:
    client = botocore.session.get_session().create_client(
        "bedrock-agent", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="y"
    )
    return client, Stubber(client)


def expect_listing(stubber: Stubber) -> None:
    # Aliases over two pages: the test alias routes to DRAFT, live-b to 7.
    stubber.add_response(
        "list_agent_aliases",
        {"agentAliasSummaries": [alias("TSTALIASID", "DRAFT")], "nextToken": "t1"},
        {"agentId": AGENT_ID},
    )
    stubber.add_response(
        "list_agent_aliases",
        {"agentAliasSummaries": [alias("LIVEALIASB", "7")]},
        {"agentId": AGENT_ID, "nextToken": "t1"},
    )
    stubber.add_response(
        "list_agent_versions",
        {"agentVersionSummaries": [version("DRAFT"), version("10"), version("7"), version("6")]},
        {"agentId": AGENT_ID},
    )


def test_lists_versions_no_alias_routes_to_oldest_first(stubbed: tuple[object, Stubber]) -> None:
    client, stubber = stubbed
    expect_listing(stubber)
    with stubber:
        assert unreferenced_versions(client, AGENT_ID) == ["6", "10"]
    stubber.assert_no_pending_responses()


def test_without_delete_nothing_is_deleted(
    stubbed: tuple[object, Stubber], capsys: pytest.CaptureFixture[str]
) -> None:
    client, stubber = stubbed
    expect_listing(stubber)
    with stubber:  # a delete call would fail: none is expected
        assert main(["--agent-id", AGENT_ID], client=client) == 0
    assert "no alias routes to: 6, 10" in capsys.readouterr().out


def test_delete_keeps_the_in_use_check_on(
    stubbed: tuple[object, Stubber], capsys: pytest.CaptureFixture[str]
) -> None:
    client, stubber = stubbed
    expect_listing(stubber)
    for number in ("6", "10"):
        stubber.add_response(
            "delete_agent_version",
            {"agentId": AGENT_ID, "agentVersion": number, "agentStatus": "DELETING"},
            {"agentId": AGENT_ID, "agentVersion": number, "skipResourceInUseCheck": False},
        )
    with stubber:
        assert main(["--agent-id", AGENT_ID, "--delete"], client=client) == 0
    stubber.assert_no_pending_responses()
    assert "Deleted versions 6, 10" in capsys.readouterr().out
