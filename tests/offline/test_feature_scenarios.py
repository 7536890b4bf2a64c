"""Step plans for turning each feature of issue #14 on and off, both ways, on the stacks it applies to:
the guardrail, the knowledge base, the alarm email and the agent's KMS key (README, "Turning features
on and off"). Each plan matches its steps exactly (so nothing of the network, or anything else not named,
changes), runs its work in the order real AWS needs, and has exactly the plan hazards listed (none, or
the one that tells the user to take the documented two steps).

Program runs are cached per state (tests/offline/scenarios.py), and each state serves both directions.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass

import pytest

from offline import hazards
from offline.model import ResourceSnapshot
from offline.plan import CREATE, DELETE, REPLACE, UPDATE, Plan, plan, render
from tests.offline.scenarios import ProgramState, Scenario, assert_in_order, steps_by_name

# Phases of the waves (offline/plan.py).
CREATED, UPDATED, DELETED = "create", "update", "delete"
NEW_COPY, OLD_COPY = "create-replacement", "delete-replaced"

DEV = ProgramState()  # guardrail and knowledge base on, no agent key
DEV_NO_KB = ProgramState(overrides={"knowledgeBaseEnabled": False})
DEV_KB_DETACHED = ProgramState(overrides={"knowledgeBaseAttached": False})
DEV_NO_GUARDRAIL = ProgramState(overrides={"guardrailEnabled": False})
DEV_EMAIL = ProgramState(overrides={"alarmEmail": "ops@example.com"})
DEV_OTHER_EMAIL = ProgramState(overrides={"alarmEmail": "oncall@example.com"})
DEV_KEY = ProgramState(overrides={"agentKmsKey": True})
DEV_KEY_NO_KB = ProgramState(overrides={"agentKmsKey": True, "knowledgeBaseEnabled": False})
DEV_KEY_KB_DETACHED = ProgramState(overrides={"agentKmsKey": True, "knowledgeBaseAttached": False})
PROD = ProgramState("prod")  # agent key on, knowledge base off, stateful resources protected
PROD_NO_KEY = ProgramState("prod", overrides={"agentKmsKey": False})
PROD_KB = ProgramState("prod", overrides={"knowledgeBaseEnabled": True})
PROD_KB_DETACHED = ProgramState(
    "prod", overrides={"knowledgeBaseEnabled": True, "knowledgeBaseAttached": False}
)
AGENTCORE = ProgramState("agentcore")  # guardrail and knowledge base on (its search tool attached)
AGENTCORE_NO_GUARDRAIL = ProgramState("agentcore", overrides={"guardrailEnabled": False})
AGENTCORE_KB_DETACHED = ProgramState("agentcore", overrides={"knowledgeBaseAttached": False})
AGENTCORE_KEY = ProgramState("agentcore", overrides={"agentKmsKey": True})
AGENTCORE_KEY_KB_DETACHED = ProgramState(
    "agentcore", overrides={"agentKmsKey": True, "knowledgeBaseAttached": False}
)
# Without a knowledge base the stack also drops the endpoint its search tool used (config.py refuses it).
AGENTCORE_NO_KB = ProgramState(
    "agentcore",
    overrides={
        "knowledgeBaseEnabled": False,
        "interfaceEndpoints": ("bedrock-agentcore", "bedrock-runtime"),
    },
)

# What every definition change does after the agent's own steps: a new alias (a new version), the
# invoker and the dashboard move to it, the old alias goes at the end.
ALIAS_MOVES = {
    "agent-alias": REPLACE,
    "invoker-function": UPDATE,
    "monitoring-dashboard": UPDATE,
}
# A changed agent role policy: written beside the old one, the propagation wait, then UpdateAgent.
ROLE_POLICY_CHANGES = {
    "agent-model-access": REPLACE,
    "agent-permissions-propagation": REPLACE,
    "agent-agent": UPDATE,
}
# The AgentCore search tool comes or goes: its Lambda's Retrieve grant (written beside the old one) and
# KNOWLEDGE_BASE_ID, and the invoker's RETRIEVAL_TOOL (with the guardrail's new version).
AGENTCORE_SEARCH_TOOL_CHANGES = {
    "action-group-permissions": REPLACE,
    "action-group-function": UPDATE,
    "invoker-function": UPDATE,
}
# The guardrail's settings change (grounding with the knowledge base, its key): a new pinned version.
GUARDRAIL_CHANGES = {"guardrail-guardrail": UPDATE, "guardrail-version": REPLACE}
DOCUMENTS_BUCKET = {
    "knowledge-documents",
    "knowledge-documents-ownership",
    "knowledge-documents-public-access",
    "knowledge-documents-versioning",
    "knowledge-documents-encryption",
    "knowledge-documents-policy",
}
CORPUS = {"knowledge-doc-deployment", "knowledge-doc-operations", "knowledge-doc-security"}
KNOWLEDGE_BASE = (
    DOCUMENTS_BUCKET
    | CORPUS
    | {
        "knowledge-vectors",
        "knowledge-index",
        "knowledge-role",
        "knowledge-access",
        "knowledge-kb",
        "knowledge-documents-source",
    }
)
AGENT_KEY = {"agent-key-key", "agent-key-alias"}
# The agent key comes or goes: the guardrail gets a new version, the agent role's policy and the agent
# change, the alias moves, and the invoker's key grant changes (written beside the old one).
KEY_CHANGES = {**GUARDRAIL_CHANGES, **ROLE_POLICY_CHANGES, **ALIAS_MOVES, "invoker-permissions": REPLACE}
# ... with a knowledge base: its vector store (encryption fixed at creation) and what is built on it.
KB_REBUILT = {
    "knowledge-documents-encryption": UPDATE,
    "knowledge-access": REPLACE,
    **dict.fromkeys(
        (
            "knowledge-vectors",
            "knowledge-index",
            "knowledge-kb",
            "knowledge-documents-source",
            "agent-knowledge",
        ),
        REPLACE,
    ),
}
# The definition change, in order: the agent, the new alias, the invoker on it, the old alias gone.
MOVE = (
    ("agent-agent", UPDATED),
    ("agent-alias", NEW_COPY),
    ("invoker-function", UPDATED),
    ("agent-alias", OLD_COPY),
)
# A grant the agent needs is written and propagated before UpdateAgent.
GRANT_FIRST = (
    ("agent-model-access", NEW_COPY),
    ("agent-permissions-propagation", NEW_COPY),
    ("agent-agent", UPDATED),
)
# Dependents before what they depend on: the data source and the association before the knowledge
# base, the knowledge base before its index, the index before its vector bucket (DeleteVectorBucket:
# "All vector indexes in the vector bucket must be deleted before the vector bucket can be deleted").
KB_DELETED_IN_ORDER = (
    ("knowledge-documents-source", DELETED),
    ("knowledge-kb", DELETED),
    ("knowledge-index", DELETED),
    ("knowledge-vectors", DELETED),
)


def each(names: set[str], op: str) -> dict[str, str]:
    return dict.fromkeys(names, op)


@dataclass(frozen=True)
class Toggle:
    scenario: Scenario
    orders: tuple[tuple[tuple[str, str], ...], ...] = ()
    hazards: tuple[str, ...] = ()  # rule names, sorted
    retained: frozenset[str] = frozenset()  # deleted from the stack, kept in AWS

    def __str__(self) -> str:
        return self.scenario.name


def toggle(
    name: str,
    base: ProgramState,
    new: ProgramState,
    expect: Mapping[str, str],
    *orders: tuple[tuple[str, str], ...],
    hazards: tuple[str, ...] = (),
    retained: set[str] | frozenset[str] = frozenset(),
) -> Toggle:
    return Toggle(Scenario(name, base, new, expect), orders, tuple(sorted(hazards)), frozenset(retained))


TOGGLES = [
    # --- guardrail (guardrailEnabled) ---------------------------------------------------------------
    toggle(
        "dev: guardrail off",
        DEV,
        DEV_NO_GUARDRAIL,
        {**ROLE_POLICY_CHANGES, **ALIAS_MOVES, "guardrail-version": DELETE, "guardrail-guardrail": DELETE},
        # Detached from the agent (and the alias moved off it) before the version and the guardrail go.
        (*MOVE[:3], ("guardrail-version", DELETED), ("guardrail-guardrail", DELETED)),
    ),
    toggle(
        "dev: guardrail on",
        DEV_NO_GUARDRAIL,
        DEV,
        {**ROLE_POLICY_CHANGES, **ALIAS_MOVES, "guardrail-guardrail": CREATE, "guardrail-version": CREATE},
        (("guardrail-guardrail", CREATED), ("guardrail-version", CREATED), *MOVE),
        # ApplyGuardrail on it is granted (and propagated) before UpdateAgent attaches it.
        (("guardrail-guardrail", CREATED), *GRANT_FIRST),
    ),
    # On AgentCore the invoker applies the guardrail (ApplyGuardrail through the bedrock-runtime endpoint,
    # whose policy admits only that call while there is a guardrail): no agent version, no alias.
    toggle(
        "agentcore: guardrail off",
        AGENTCORE,
        AGENTCORE_NO_GUARDRAIL,
        {
            "endpoints-bedrock-runtime": UPDATE,
            "invoker-permissions": REPLACE,
            "invoker-function": UPDATE,
            "guardrail-version": DELETE,
            "guardrail-guardrail": DELETE,
        },
        (("invoker-function", UPDATED), ("guardrail-version", DELETED), ("guardrail-guardrail", DELETED)),
        (("invoker-function", UPDATED), ("invoker-permissions", OLD_COPY)),
    ),
    toggle(
        "agentcore: guardrail on",
        AGENTCORE_NO_GUARDRAIL,
        AGENTCORE,
        {
            "endpoints-bedrock-runtime": UPDATE,
            "invoker-permissions": REPLACE,
            "invoker-function": UPDATE,
            "guardrail-version": CREATE,
            "guardrail-guardrail": CREATE,
        },
        (("guardrail-guardrail", CREATED), ("guardrail-version", CREATED), ("invoker-function", UPDATED)),
        (("guardrail-guardrail", CREATED), ("invoker-permissions", NEW_COPY), ("invoker-function", UPDATED)),
    ),
    # --- alarm email (alarmEmail) -------------------------------------------------------------------
    toggle("dev: alarm email added", DEV, DEV_EMAIL, {"monitoring-alarms-email": CREATE}),
    # endpoint and protocol are ForceNew (terraform-provider-aws sns subscriptionSchema).
    toggle("dev: alarm email changed", DEV_EMAIL, DEV_OTHER_EMAIL, {"monitoring-alarms-email": REPLACE}),
    toggle("dev: alarm email removed", DEV_EMAIL, DEV, {"monitoring-alarms-email": DELETE}),
    # --- knowledge base (knowledgeBaseEnabled, knowledgeBaseAttached) -------------------------------
    toggle(
        "dev: knowledge base on",
        DEV_NO_KB,
        DEV,
        {
            **each(KNOWLEDGE_BASE, CREATE),
            **GUARDRAIL_CHANGES,
            **ROLE_POLICY_CHANGES,
            **ALIAS_MOVES,
            "agent-knowledge": CREATE,
        },
        (
            ("knowledge-vectors", CREATED),
            ("knowledge-index", CREATED),
            ("knowledge-kb", CREATED),
            ("knowledge-documents-source", CREATED),
        ),
        # Retrieve on it is in force before the agent changes; associated before the alias snapshots.
        (("knowledge-kb", CREATED), *GRANT_FIRST, ("agent-knowledge", CREATED), ("agent-alias", NEW_COPY)),
        (("knowledge-documents-policy", CREATED), ("knowledge-doc-security", CREATED)),
    ),
    toggle(
        "dev: knowledge base off, 1: detached",
        DEV,
        DEV_KB_DETACHED,
        {**GUARDRAIL_CHANGES, **ROLE_POLICY_CHANGES, **ALIAS_MOVES, "agent-knowledge": UPDATE},
        (("agent-agent", UPDATED), ("agent-knowledge", UPDATED), *MOVE[1:]),
    ),
    toggle(
        "dev: knowledge base off, 2: deleted",
        DEV_KB_DETACHED,
        DEV_NO_KB,
        {**each(KNOWLEDGE_BASE, DELETE), "agent-knowledge": DELETE},
        (("agent-knowledge", DELETED), ("knowledge-kb", DELETED)),
        KB_DELETED_IN_ORDER,
        (("knowledge-access", DELETED), ("knowledge-role", DELETED)),
        retained=DOCUMENTS_BUCKET,
    ),
    toggle(
        "dev: knowledge base re-attached",
        DEV_KB_DETACHED,
        DEV,
        {**GUARDRAIL_CHANGES, **ROLE_POLICY_CHANGES, **ALIAS_MOVES, "agent-knowledge": UPDATE},
        (*GRANT_FIRST, ("agent-knowledge", UPDATED), *MOVE[1:]),
    ),
    # The shortcut: the alias snapshots a DRAFT that still has the association (deleted at the end).
    toggle(
        "dev: knowledge base off in one deployment",
        DEV,
        DEV_NO_KB,
        {
            **each(KNOWLEDGE_BASE, DELETE),
            **GUARDRAIL_CHANGES,
            **ROLE_POLICY_CHANGES,
            **ALIAS_MOVES,
            "agent-knowledge": DELETE,
        },
        (("agent-alias", NEW_COPY), ("agent-knowledge", DELETED)),
        hazards=("snapshot-before-delete",),
        retained=DOCUMENTS_BUCKET,
    ),
    toggle(
        "prod: knowledge base on",
        PROD,
        PROD_KB,
        {
            **each(KNOWLEDGE_BASE, CREATE),
            **GUARDRAIL_CHANGES,
            **ROLE_POLICY_CHANGES,
            **ALIAS_MOVES,
            "agent-knowledge": CREATE,
        },
        (("knowledge-kb", CREATED), *GRANT_FIRST, ("agent-knowledge", CREATED), ("agent-alias", NEW_COPY)),
    ),
    # Production protects the vector store and the documents bucket: deleting them stops the deployment
    # until the user unprotects them (the hazard names the command).
    toggle(
        "prod: knowledge base off, 2: deleted",
        PROD_KB_DETACHED,
        PROD,
        {**each(KNOWLEDGE_BASE, DELETE), "agent-knowledge": DELETE},
        KB_DELETED_IN_ORDER,
        hazards=("protected-removed",) * 3,
        retained=DOCUMENTS_BUCKET,
    ),
    # AgentCore has no association and no alias: the agent searches through the `knowledge` gateway
    # target, so the knowledge base comes and goes in one deployment each way. The invoker applies the
    # guardrail itself (ApplyGuardrail on GUARDRAIL_VERSION): it moves to the new version (grounding with
    # the knowledge base) before the old one is deleted.
    toggle(
        "agentcore: knowledge base on",
        AGENTCORE_NO_KB,
        AGENTCORE,
        {
            **each(KNOWLEDGE_BASE, CREATE),
            **GUARDRAIL_CHANGES,
            **AGENTCORE_SEARCH_TOOL_CHANGES,
            "agent-knowledge": CREATE,
            "agent-knowledge-invoke": CREATE,
            "endpoints-bedrock-agent-runtime": CREATE,
        },
        # The tool is published only once its Lambda knows the knowledge base and may Retrieve from it.
        (
            ("knowledge-kb", CREATED),
            ("action-group-permissions", NEW_COPY),
            ("action-group-function", UPDATED),
            ("agent-knowledge-invoke", CREATED),
            ("agent-knowledge", CREATED),
        ),
        (("knowledge-kb", CREATED), ("endpoints-bedrock-agent-runtime", CREATED)),
        (("guardrail-version", NEW_COPY), ("invoker-function", UPDATED), ("guardrail-version", OLD_COPY)),
        (("action-group-function", UPDATED), ("action-group-permissions", OLD_COPY)),
    ),
    # One deployment: the Lambda and the invoker move off the knowledge base first (a search in between
    # answers "no knowledge base is configured"), then the target goes before its invoke grant, and the
    # old Retrieve grant and the endpoint that name the knowledge base go before it.
    toggle(
        "agentcore: knowledge base off",
        AGENTCORE,
        AGENTCORE_NO_KB,
        {
            **each(KNOWLEDGE_BASE, DELETE),
            **GUARDRAIL_CHANGES,
            **AGENTCORE_SEARCH_TOOL_CHANGES,
            "agent-knowledge": DELETE,
            "agent-knowledge-invoke": DELETE,
            "endpoints-bedrock-agent-runtime": DELETE,
        },
        (
            ("action-group-function", UPDATED),
            ("agent-knowledge", DELETED),
            ("agent-knowledge-invoke", DELETED),
        ),
        (("invoker-function", UPDATED), ("agent-knowledge", DELETED)),
        (("action-group-permissions", OLD_COPY), ("knowledge-kb", DELETED)),
        (("endpoints-bedrock-agent-runtime", DELETED), ("knowledge-kb", DELETED)),
        KB_DELETED_IN_ORDER,
        (("guardrail-version", NEW_COPY), ("invoker-function", UPDATED), ("guardrail-version", OLD_COPY)),
        retained=DOCUMENTS_BUCKET,
    ),
    # knowledgeBaseAttached false: the target and its grant go, the knowledge base and the endpoint stay.
    toggle(
        "agentcore: knowledge base detached",
        AGENTCORE,
        AGENTCORE_KB_DETACHED,
        {
            **GUARDRAIL_CHANGES,
            **AGENTCORE_SEARCH_TOOL_CHANGES,
            "agent-knowledge": DELETE,
            "agent-knowledge-invoke": DELETE,
        },
        (
            ("action-group-permissions", NEW_COPY),
            ("action-group-function", UPDATED),
            ("agent-knowledge", DELETED),
            ("agent-knowledge-invoke", DELETED),
        ),
        (("guardrail-version", NEW_COPY), ("invoker-function", UPDATED), ("guardrail-version", OLD_COPY)),
    ),
    toggle(
        "agentcore: knowledge base re-attached",
        AGENTCORE_KB_DETACHED,
        AGENTCORE,
        {
            **GUARDRAIL_CHANGES,
            **AGENTCORE_SEARCH_TOOL_CHANGES,
            "agent-knowledge": CREATE,
            "agent-knowledge-invoke": CREATE,
        },
        (
            ("action-group-permissions", NEW_COPY),
            ("action-group-function", UPDATED),
            ("agent-knowledge-invoke", CREATED),
            ("agent-knowledge", CREATED),
        ),
        (("guardrail-version", NEW_COPY), ("invoker-function", UPDATED), ("guardrail-version", OLD_COPY)),
    ),
    toggle(
        "agentcore: knowledge base deleted after detaching",
        AGENTCORE_KB_DETACHED,
        AGENTCORE_NO_KB,
        {**each(KNOWLEDGE_BASE, DELETE), "endpoints-bedrock-agent-runtime": DELETE},
        (("endpoints-bedrock-agent-runtime", DELETED), ("knowledge-kb", DELETED)),
        KB_DELETED_IN_ORDER,
        retained=DOCUMENTS_BUCKET,
    ),
    # The agent key rebuilds the vector store on AgentCore too (no agent, no alias: the invoker's key
    # grant for the guardrail and the new guardrail version move it). Detached first, nothing searches
    # the knowledge base while it is rebuilt; attached, the search tool's function names the old one.
    toggle(
        "agentcore, knowledge base detached: agent key on",
        AGENTCORE_KB_DETACHED,
        AGENTCORE_KEY_KB_DETACHED,
        {
            **each(AGENT_KEY, CREATE),
            **GUARDRAIL_CHANGES,
            **{name: op for name, op in KB_REBUILT.items() if name != "agent-knowledge"},
            "endpoints-bedrock-agent-runtime": UPDATE,
            "invoker-permissions": REPLACE,
            "invoker-function": UPDATE,
        },
        (
            ("knowledge-kb", OLD_COPY),
            ("knowledge-index", OLD_COPY),
            ("knowledge-vectors", OLD_COPY),
            ("knowledge-vectors", NEW_COPY),
            ("knowledge-index", NEW_COPY),
            ("knowledge-kb", NEW_COPY),
            ("endpoints-bedrock-agent-runtime", UPDATED),
        ),
        (("agent-key-key", CREATED), ("invoker-permissions", NEW_COPY), ("invoker-function", UPDATED)),
    ),
    toggle(
        "agentcore: agent key on with the knowledge base attached",
        AGENTCORE,
        AGENTCORE_KEY,
        {
            **each(AGENT_KEY, CREATE),
            **GUARDRAIL_CHANGES,
            **{name: op for name, op in KB_REBUILT.items() if name != "agent-knowledge"},
            **AGENTCORE_SEARCH_TOOL_CHANGES,
            "endpoints-bedrock-agent-runtime": UPDATE,
            "invoker-permissions": REPLACE,
        },
        (("knowledge-kb", OLD_COPY), ("knowledge-kb", NEW_COPY), ("action-group-function", UPDATED)),
        hazards=("live-knowledge-base-rebuilt",),
    ),
    # --- the agent's key (agentKmsKey) --------------------------------------------------------------
    toggle(
        "dev without knowledge base: agent key on",
        DEV_NO_KB,
        DEV_KEY_NO_KB,
        {
            **each(AGENT_KEY, CREATE),
            **KEY_CHANGES,
        },
        (
            ("agent-key-key", CREATED),
            ("guardrail-guardrail", UPDATED),
            ("guardrail-version", NEW_COPY),
            *MOVE,
        ),
        # The invoker may use the key for the agent before it calls the alias that needs it.
        (("agent-key-key", CREATED), ("invoker-permissions", NEW_COPY), ("invoker-function", UPDATED)),
    ),
    toggle(
        "dev without knowledge base: agent key off",
        DEV_KEY_NO_KB,
        DEV_NO_KB,
        {
            **each(AGENT_KEY, DELETE),
            **KEY_CHANGES,
        },
        MOVE,
        # The invoker keeps its key grant until it has moved off the version that uses the key; the key
        # leaves the stack last and stays in AWS (data encrypted with it outlives the change).
        (("invoker-function", UPDATED), ("invoker-permissions", OLD_COPY), ("agent-key-key", DELETED)),
        retained={"agent-key-key"},
    ),
    # With a knowledge base the key also encrypts the vector store, whose encryption is fixed at creation
    # (RequiresReplace): detached first, the knowledge base is rebuilt while the agent does not use it.
    toggle(
        "dev, knowledge base detached: agent key on",
        DEV_KB_DETACHED,
        DEV_KEY_KB_DETACHED,
        {
            **each(AGENT_KEY, CREATE),
            **KEY_CHANGES,
            **KB_REBUILT,
        },
        # Delete-before-replace: the association, the knowledge base and the index go before the vector
        # bucket (and so before the new one takes its name), then everything is created again.
        (
            ("agent-knowledge", OLD_COPY),
            ("knowledge-kb", OLD_COPY),
            ("knowledge-index", OLD_COPY),
            ("knowledge-vectors", OLD_COPY),
            ("knowledge-vectors", NEW_COPY),
            ("knowledge-index", NEW_COPY),
            ("knowledge-kb", NEW_COPY),
            ("agent-knowledge", NEW_COPY),
            ("agent-alias", NEW_COPY),
        ),
        (
            ("knowledge-kb", NEW_COPY),
            ("knowledge-documents-source", OLD_COPY),
            ("knowledge-documents-source", NEW_COPY),
        ),
    ),
    toggle(
        "dev, knowledge base detached: agent key off",
        DEV_KEY_KB_DETACHED,
        DEV_KB_DETACHED,
        {
            **each(AGENT_KEY, DELETE),
            **KEY_CHANGES,
            **KB_REBUILT,
        },
        (("knowledge-index", OLD_COPY), ("knowledge-vectors", OLD_COPY), ("knowledge-vectors", NEW_COPY)),
        (("invoker-function", UPDATED), ("invoker-permissions", OLD_COPY), ("agent-key-key", DELETED)),
        retained={"agent-key-key"},
    ),
    # The shortcut: the live version searches a knowledge base that is deleted and rebuilt empty.
    toggle(
        "dev: agent key on with the knowledge base attached",
        DEV,
        DEV_KEY,
        {
            **each(AGENT_KEY, CREATE),
            **KEY_CHANGES,
            **KB_REBUILT,
        },
        (("knowledge-kb", OLD_COPY), ("knowledge-kb", NEW_COPY), ("agent-alias", NEW_COPY)),
        hazards=("live-knowledge-base-rebuilt",),
    ),
    toggle(
        "prod: agent key on",
        PROD_NO_KEY,
        PROD,
        {
            **each(AGENT_KEY, CREATE),
            **KEY_CHANGES,
        },
        (("agent-key-key", CREATED), *MOVE),
    ),
    # Production protects the key: the plan names the unprotect command; the key is retained anyway.
    toggle(
        "prod: agent key off",
        PROD,
        PROD_NO_KEY,
        {
            **each(AGENT_KEY, DELETE),
            **KEY_CHANGES,
        },
        (*MOVE[:3], ("invoker-permissions", OLD_COPY), ("agent-key-key", DELETED)),
        hazards=("protected-removed",),
        retained={"agent-key-key"},
    ),
]


def _show(step_plan: Plan) -> None:
    print("\n".join(render(step_plan)))  # shown when the scenario fails
    for hazard in hazards.check(step_plan):
        print(f"{hazard.rule}: {hazard.message}")


@pytest.mark.parametrize("case", TOGGLES, ids=str)
def test_feature_toggle(case: Toggle) -> None:
    step_plan = case.scenario.plan()
    _show(step_plan)
    assert steps_by_name(step_plan) == dict(case.scenario.expect)
    for order in case.orders:
        assert_in_order(step_plan, *order)
    assert sorted(h.rule for h in hazards.check(step_plan)) == list(case.hazards)
    kept = {s.name for s in step_plan.by_op(DELETE) if s.old is not None and s.old.retain_on_delete}
    assert kept == case.retained


# --- the checks behind the fixes, on edited graphs (they keep testing the check after the fix) ------


def _undo(state: ProgramState, names: set[str], **options: object) -> list[ResourceSnapshot]:
    return [dataclasses.replace(r, **options) if r.name in names else r for r in state.resources()]  # type: ignore[arg-type]


def _found(step_plan: Plan, rule: str) -> list[tuple[str, ...]]:
    names = {s.urn: s.name for s in step_plan.steps}
    return sorted(tuple(names[u] for u in h.urns) for h in hazards.check(step_plan) if h.rule == rule)


def test_a_vector_store_replaced_create_before_delete_under_its_name_is_found() -> None:
    vector_store = {"knowledge-vectors", "knowledge-index"}
    step_plan = plan(
        DEV_KB_DETACHED.resources(), _undo(DEV_KEY_KB_DETACHED, vector_store, delete_before_replace=False)
    )
    assert _found(step_plan, "name-taken-on-replace") == [("knowledge-index",), ("knowledge-vectors",)]


def test_deleting_the_agent_key_while_its_data_stays_is_found() -> None:
    with_key = _undo(DEV_KEY_NO_KB, {"agent-key-key"}, retain_on_delete=False)
    step_plan = plan(with_key, DEV_NO_KB.resources())
    assert _found(step_plan, "key-deleted-with-data") == [
        ("agent-key-key", "guardrail-guardrail", "agent-agent")
    ]
