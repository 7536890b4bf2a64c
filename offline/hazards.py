"""Hazard checks over a step plan: orders that the mocks accept and real AWS rejects.

Each check reads the plan's steps, their waves and the old/new state of each resource, and reports
a mandatory `Hazard` with a remediation. They run on the offline plan (offline/plan.py) and on the
real engine's plan (`pulumi preview --json`, offline/engine_plan.py) alike.

- concurrent-prepare: two steps that prepare the same Bedrock agent in one wave (the second fails
  with "Prepare operation can't be performed on Agent when it is in Preparing state",
  terraform-provider-aws #42845: the provider's create/update of an action group does not retry it).
- grant-narrowed-before-move: an IAM or endpoint policy stops granting an ARN in a wave before (or the
  same as) the one in which the resource still using that ARN moves off it (502 AGENT_ACCESS_DENIED
  in between).
- snapshot-before-delete: an alias is created (Bedrock snapshots the agent's DRAFT into a version)
  before the deletion of something of that agent it would snapshot (pulumi/pulumi#9979: deletions run
  at the end), so the live version keeps a tool whose executor is gone.
- grant-not-in-force: an IAM grant written in the same deployment, in the same wave as or just before
  a step whose create/update validates it synchronously (CreateAgent/UpdateAgent/PrepareAgent check
  the role's model permission: terraform-provider-aws #42847, aws-cdk #35120; the provider does not
  retry). IAM is eventually consistent, so "in force" needs the grant to be written in an earlier
  deployment or a propagation wait step between the two.
- name-taken-on-replace: a resource whose name is unique in its scope and not auto-named (an S3 Vectors
  vector bucket, an index in it) replaced create-before-delete under the same name: the bridge asks for
  delete-before-replace only for auto-named properties, so the create fails with a conflict while the
  old one still holds the name.
- live-knowledge-base-rebuilt: a knowledge base the live agent version searches (its association is
  ENABLED, or, on AgentCore, a function names it in KNOWLEDGE_BASE_ID before and after) is replaced:
  the engine deletes it (and its association) before the new one exists and the alias moves, so
  retrieval fails in between, and the new one is empty until it is ingested.
- key-deleted-with-data: a KMS key is deleted (ScheduleKeyDeletion: unreadable after the waiting
  period) while resources that encrypted data with it stay (they are updated off it, or retained):
  agent versions, objects already in a bucket keep needing the key.
- protected-removed: a step deletes or replaces a resource marked `protect`; the engine refuses it and
  the deployment stops there.
- eni-grant-deleted-first: a Lambda function's ENI-cleanup grant (ec2:DeleteNetworkInterface on its
  execution role, or the role itself) deleted before or with the subnets and security groups its ENIs
  live in: Lambda deletes the ENIs after the function, with that role, and the subnets and groups
  then fail with DependencyViolation.
"""

from __future__ import annotations

import fnmatch
import json
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from offline.model import ResourceSnapshot
from offline.plan import CREATE, DELETE, REPLACE, UNKNOWN, UPDATE, Plan, Step

AGENT = "aws:bedrock/agentAgent:AgentAgent"
ACTION_GROUP = "aws:bedrock/agentAgentActionGroup:AgentAgentActionGroup"
ALIAS = "aws:bedrock/agentAgentAlias:AgentAgentAlias"
# Resources whose create/update/delete prepares the agent named by their `agentId` when `prepareAgent`.
PREPARING = {
    AGENT,
    ACTION_GROUP,
    "aws:bedrock/agentAgentKnowledgeBaseAssociation:AgentAgentKnowledgeBaseAssociation",
}
KMS_KEY = "aws:kms/key:Key"
KNOWLEDGE_BASE = "aws:bedrock/agentKnowledgeBase:AgentKnowledgeBase"
KNOWLEDGE_BASE_ASSOCIATION = (
    "aws:bedrock/agentAgentKnowledgeBaseAssociation:AgentAgentKnowledgeBaseAssociation"
)
# What an alias snapshots: the agent's parts that live in its DRAFT, with the input that turns one off
# (a DISABLED part is in the version but never offered to the model).
SNAPSHOTTED = {
    ACTION_GROUP: "actionGroupState",
    KNOWLEDGE_BASE_ASSOCIATION: "knowledgeBaseState",
    "aws:bedrock/agentAgentCollaborator:AgentAgentCollaborator": "",
}
# How to take each snapshotted part out of the agent before it is deleted or rebuilt.
TAKE_OUT_FIRST = {
    ACTION_GROUP: (
        "keep the action group with actionGroupState DISABLED for one deployment (ToolGroup enabled=False), "
        "delete it in the next"
    ),
    KNOWLEDGE_BASE_ASSOCIATION: (
        "set knowledgeBaseAttached to false for one deployment (the association stays, DISABLED, and "
        "leaves the agent's definition), then turn the knowledge base off or rebuild it in the next "
        '(README, "Turning features on and off")'
    ),
}
# Types whose physical name is unique in its scope and which are not auto-named: type -> the inputs that
# make up the name. S3 Vectors: vector bucket names are unique per account and region, index names per
# vector bucket (CreateVectorBucket / CreateIndex fail with ConflictException, s3vectors API model).
UNIQUE_NAMES = {
    "aws:s3/vectorsVectorBucket:VectorsVectorBucket": ("vectorBucketName",),
    "aws:s3/vectorsIndex:VectorsIndex": ("vectorBucketName", "indexName"),
}
# Inputs holding a policy document that grants access, per type.
POLICY_INPUTS = {
    "aws:iam/rolePolicy:RolePolicy": "policy",
    "aws:iam/policy:Policy": "policy",
    "aws:ec2/vpcEndpoint:VpcEndpoint": "policy",
}
# IAM policies that, replaced create-before-delete, exist side by side with their old copy (a new
# auto-generated name) until it is deleted at the end: IAM allows the union, so nothing is narrowed
# before every other step has run.
SIDE_BY_SIDE_POLICIES = {"aws:iam/rolePolicy:RolePolicy", "aws:iam/policy:Policy"}
ROLE = "aws:iam/role:Role"
ROLE_GRANTS = {"aws:iam/rolePolicy:RolePolicy", "aws:iam/rolePolicyAttachment:RolePolicyAttachment"}
# Steps that validate their role's permissions synchronously and are not retried by the provider:
# type -> the input naming the role.
VALIDATORS = {AGENT: "agentResourceRoleArn"}
# Steps that wait for IAM to propagate when placed between a grant and its validator.
PROPAGATION_WAITS = {"time:index/sleep:Sleep"}
FUNCTION = "aws:lambda/function:Function"
NETWORK_TYPES = {"aws:ec2/subnet:Subnet", "aws:ec2/securityGroup:SecurityGroup"}
ENI_CLEANUP_ACTIONS = ("ec2:DeleteNetworkInterface", "ec2:*", "*")
ENI_MANAGED_POLICIES = (
    "/AWSLambdaVPCAccessExecutionRole",
    "/AWSLambdaENIManagementAccess",
    "/AWSLambdaVPCAccessExecutionPolicy",
)


@dataclass(frozen=True)
class Hazard:
    rule: str
    message: str
    remediation: str
    urns: tuple[str, ...]
    enforcement_level: str = "mandatory"


# --------------------------------------------------------------------------------------------------
# Helpers


def _active(step: Step) -> bool:
    return step.op in (CREATE, UPDATE, REPLACE)


def _dep(resource: ResourceSnapshot | None, prop: str) -> str | None:
    """The URN a property's value comes from (its only property dependency), if any."""
    if resource is None:
        return None
    urns = resource.property_dependencies.get(prop, ())
    return urns[0] if len(urns) == 1 else None


def _agent_of(resource: ResourceSnapshot | None) -> str | None:
    if resource is None:
        return None
    if resource.type == AGENT:
        return resource.urn
    return _dep(resource, "agentId") or (
        f"agentId={resource.inputs.get('agentId')}" if "agentId" in resource.inputs else None
    )


def _prepares(resource: ResourceSnapshot | None) -> bool:
    return resource is not None and resource.type in PREPARING and bool(resource.inputs.get("prepareAgent"))


def _document(value: Any) -> dict[str, Any] | None:
    if isinstance(value, dict):
        return value
    if isinstance(value, str) and value != UNKNOWN:
        try:
            parsed = json.loads(value)
        except json.JSONDecodeError:
            return None
        return parsed if isinstance(parsed, dict) else None
    return None


def _statements(document: dict[str, Any]) -> list[dict[str, Any]]:
    statements = document.get("Statement", [])
    return [s for s in (statements if isinstance(statements, list) else [statements]) if isinstance(s, dict)]


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value] if value is not None else []


def _resources(document: dict[str, Any], effect: str) -> list[str]:
    return [
        str(resource)
        for statement in _statements(document)
        if statement.get("Effect") == effect
        for resource in _as_list(statement.get("Resource"))
    ]


def _grants_actions(document: dict[str, Any] | None, actions: Iterable[str]) -> bool:
    if document is None:
        return False
    wanted = set(actions)
    for statement in _statements(document):
        if statement.get("Effect") == "Allow" and wanted & {
            str(a) for a in _as_list(statement.get("Action"))
        }:
            return True
    return False


def _grants(document: dict[str, Any], effect: str) -> list[tuple[str, str]]:
    """(action, resource) pairs a policy's statements of `effect` name."""
    return [
        (str(action), str(resource))
        for statement in _statements(document)
        if statement.get("Effect") == effect
        for action in _as_list(statement.get("Action"))
        for resource in _as_list(statement.get("Resource"))
    ]


def _covered(grant: tuple[str, str], patterns: Iterable[tuple[str, str]]) -> bool:
    action, arn = grant
    return any(
        fnmatch.fnmatchcase(action.lower(), a.lower()) and fnmatch.fnmatchcase(arn, r) for a, r in patterns
    )


def _old_values(resource: ResourceSnapshot) -> set[str]:
    return {str(value) for value in resource.outputs.values() if isinstance(value, str)}


def _reaches(start: ResourceSnapshot, target: str, by_urn: dict[str, ResourceSnapshot]) -> bool:
    """Whether `start` depends, directly or through other resources, on `target`."""
    seen: set[str] = set()
    stack = [start]
    while stack:
        resource = stack.pop()
        deps = set(resource.dependencies) | {u for us in resource.property_dependencies.values() for u in us}
        if target in deps:
            return True
        for dep in deps - seen:
            seen.add(dep)
            if dep in by_urn:
                stack.append(by_urn[dep])
    return False


def ordered(plan: Plan, first: Step, second: Step) -> bool:
    """Whether the engine always finishes `first` before it starts `second` (a dependency path between
    them, or deletions after everything else); otherwise they may run at the same time, whatever their
    waves say (the waves assume every step takes as long as any other)."""
    new_by_urn = {s.new.urn: s.new for s in plan.steps if s.new is not None}
    old_by_urn = {s.old.urn: s.old for s in plan.steps if s.old is not None}
    first_deletes, second_deletes = first.op == DELETE, second.op == DELETE
    if not first_deletes and second_deletes:
        return True
    if first_deletes and second_deletes:
        # Dependents are deleted first: `first` before `second` when `first` depended on `second`.
        return first.old is not None and _reaches(first.old, second.urn, old_by_urn)
    if first_deletes:
        return False
    return second.new is not None and _reaches(second.new, first.urn, new_by_urn)


def _name(step: Step) -> str:
    return f"{step.type.rsplit(':', 1)[-1]} '{step.name}'"


# --------------------------------------------------------------------------------------------------
# The checks


def concurrent_prepare(plan: Plan) -> Iterator[Hazard]:
    by_agent: dict[str, list[Step]] = {}
    for step in plan.steps:
        resource = step.old if step.op == DELETE else step.new
        if step.op == DELETE and plan.destroy:
            continue  # the agent itself goes too: nothing is left to prepare
        if _prepares(resource) and (agent := _agent_of(resource)) is not None:
            by_agent.setdefault(agent, []).append(step)
    for agent, steps in sorted(by_agent.items()):
        for index, first in enumerate(steps):
            for second in steps[index + 1 :]:
                if ordered(plan, first, second) or ordered(plan, second, first):
                    continue
                waves = f"waves {first.wave or first.delete_wave} and {second.wave or second.delete_wave}"
                yield Hazard(
                    "concurrent-prepare",
                    f"{_name(first)} and {_name(second)} ({waves}, no dependency between them) each prepare "
                    f'agent {agent.rsplit("::", 1)[-1]} and may run at once; the second fails with "Prepare '
                    "operation can't be performed on Agent when it is in Preparing state\".",
                    "Serialise the agent's action groups (each depends on the previous one), or let only the "
                    "last step of the chain prepare the agent.",
                    (first.urn, second.urn),
                )


def grant_narrowed_before_move(plan: Plan) -> Iterator[Hazard]:
    old_by_urn = {step.old.urn: step.old for step in plan.steps if step.old is not None}
    steps_by_urn = {step.urn: step for step in plan.steps}
    for step in plan.steps:
        prop = POLICY_INPUTS.get(step.type)
        if prop is None or step.op not in (UPDATE, REPLACE) or step.old is None or step.new is None:
            continue
        if step.op == REPLACE and not step.delete_before_replace and step.type in SIDE_BY_SIDE_POLICIES:
            continue
        change = next((c for c in step.changes if c.path == prop), None)
        if change is None:
            continue
        before = _document(change.old)
        if before is None:
            continue
        after = _document(change.new)
        granted = _grants(before, "Allow")
        if after is None:
            # Unknown until a replaced resource exists: the replaced resource's old ARNs are gone from it.
            replaced = [
                old_by_urn[urn]
                for urn in step.new.property_dependencies.get(prop, ())
                if urn in old_by_urn and steps_by_urn.get(urn, step).op == REPLACE
            ]
            removed = [arn for _, arn in granted if any(arn in _old_values(r) for r in replaced)]
        else:
            allowed, denied = _grants(after, "Allow"), _grants(after, "Deny")
            removed = [g[1] for g in granted if not _covered(g, allowed) or _covered(g, denied)]
        for arn in dict.fromkeys(removed):
            owners = [r for r in old_by_urn.values() if r.urn != step.urn and arn in _old_values(r)]
            for owner in owners:
                for user in plan.steps:
                    if user is step or user.type in POLICY_INPUTS or not _active(user) or user.new is None:
                        continue
                    moved = [
                        c.path
                        for c in user.changes
                        if owner.urn in user.new.property_dependencies.get(c.path, ())
                        or (
                            user.old is not None
                            and owner.urn in user.old.property_dependencies.get(c.path, ())
                        )
                    ]
                    if not moved or ordered(plan, user, step):
                        continue
                    yield _narrowed(step, user, arn, moved)


def _narrowed(policy: Step, user: Step, arn: str, moved: list[str]) -> Hazard:
    return Hazard(
        "grant-narrowed-before-move",
        f"wave {policy.wave}: {_name(policy)} stops granting {arn} while {_name(user)} may still use it "
        f"(it moves in wave {user.wave}, {', '.join(moved)}, and {_name(policy)} does not wait for it): "
        "requests are denied in between.",
        "Grant a pattern that covers both the old and the new value (e.g. every alias of the agent, "
        f"agent-alias/<agentId>/*) so {_name(policy)} does not change, or remove the old grant only after "
        f"{_name(user)} has moved.",
        (policy.urn, user.urn),
    )


def _disabled(resource: ResourceSnapshot | None) -> bool:
    state_input = SNAPSHOTTED.get(resource.type, "") if resource is not None else ""
    return bool(state_input) and resource is not None and resource.inputs.get(state_input) == "DISABLED"


def snapshot_before_delete(plan: Plan) -> Iterator[Hazard]:
    for alias in plan.steps:
        if alias.type != ALIAS or alias.op not in (CREATE, REPLACE) or alias.new is None:
            continue
        agent = _agent_of(alias.new)
        for removed in plan.steps:
            # A deletion, or a replacement whose old copy is deleted at the end (create-before-delete).
            goes_late = removed.op == DELETE or (removed.op == REPLACE and not removed.delete_before_replace)
            if not goes_late or removed.type not in SNAPSHOTTED or _agent_of(removed.old) != agent:
                continue
            if removed.delete_wave < alias.wave or _disabled(removed.old):
                continue
            what = "its old copy" if removed.op == REPLACE else "it"
            yield Hazard(
                "snapshot-before-delete",
                f"wave {alias.wave}: {_name(alias)} snapshots the agent's DRAFT into a new version, but "
                f"{_name(removed)} is {'replaced and its old copy ' if removed.op == REPLACE else ''}deleted "
                f"only in wave {removed.delete_wave}: the new version still contains {what} and the live "
                "alias keeps serving it.",
                "Take the part out of the agent first: "
                + TAKE_OUT_FIRST.get(removed.type, "disable it for one deployment, delete it in the next")
                + "; or make the alias depend on the deletion.",
                (alias.urn, removed.urn),
            )


def name_taken_on_replace(plan: Plan) -> Iterator[Hazard]:
    for step in plan.steps:
        names = UNIQUE_NAMES.get(step.type)
        if names is None or step.op != REPLACE or step.delete_before_replace:
            continue
        if step.old is None or step.new is None:
            continue
        old_name = [step.old.inputs.get(key) for key in names]
        if any(value is None or value == UNKNOWN for value in old_name):
            continue
        if old_name != [step.new.inputs.get(key) for key in names]:
            continue
        yield Hazard(
            "name-taken-on-replace",
            f"wave {step.wave}: {_name(step)} is replaced create-before-delete under the same name "
            f"({'/'.join(str(v) for v in old_name)}), which the old one holds until wave {step.delete_wave}: "
            "the create fails with a conflict.",
            "Give the resource delete_before_replace=True (its data is rebuilt anyway), or a name that "
            "changes with what forces the replacement.",
            (step.urn,),
        )


def live_knowledge_base_rebuilt(plan: Plan) -> Iterator[Hazard]:
    aliases = [s for s in plan.steps if s.type == ALIAS and s.op in (CREATE, REPLACE)]
    for step in plan.steps:
        if step.type != KNOWLEDGE_BASE or step.op != REPLACE or step.old is None:
            continue
        users = [
            s
            for s in plan.steps
            if s.type == KNOWLEDGE_BASE_ASSOCIATION
            and s.old is not None
            and step.old.urn in s.old.property_dependencies.get("knowledgeBaseId", ())
            and not _disabled(s.old)
        ]
        for association in users:
            agent = _agent_of(association.old)
            moved = [a for a in aliases if a.new is not None and _agent_of(a.new) == agent]
            reasons = ", ".join(sorted({r.split(".")[0] for r in step.replace_reasons}))
            when = f"until the alias moves in wave {moved[0].wave}" if moved else "from then on"
            yield Hazard(
                "live-knowledge-base-rebuilt",
                f"wave {step.delete_wave}: {_name(step)} is replaced ({reasons}) "
                f"while the live agent version searches it through {_name(association)}: the old one is "
                f"deleted before the new one exists, so retrieval fails {when}, and the new one is empty "
                "until its data source is ingested.",
                "Rebuild it while the agent does not use it: set knowledgeBaseAttached to false for one "
                "deployment, make the change in the next, run `python -m client ingest`, then set "
                'knowledgeBaseAttached back to true (README, "Turning features on and off").',
                (step.urn, association.urn),
            )
        yield from _searched_through_a_tool(plan, step)


def _searched_through_a_tool(plan: Plan, step: Step) -> Iterator[Hazard]:
    """The same hazard where the agent searches through a tool (AgentCore's `knowledge` target): a
    function that names the rebuilt knowledge base (KNOWLEDGE_BASE_ID) before and after the change."""
    assert step.old is not None
    for function in plan.steps:
        if function.type != FUNCTION or function.old is None or function.new is None:
            continue
        names_it = step.old.urn in function.old.property_dependencies.get("environment", ())
        still = "KNOWLEDGE_BASE_ID" in ((function.new.inputs.get("environment") or {}).get("variables") or {})
        if not (names_it and still):
            continue
        reasons = ", ".join(sorted({r.split(".")[0] for r in step.replace_reasons}))
        yield Hazard(
            "live-knowledge-base-rebuilt",
            f"wave {step.delete_wave}: {_name(step)} is replaced ({reasons}) while the agent searches it "
            f"through {_name(function)} (KNOWLEDGE_BASE_ID): the old one is deleted before the new one "
            "exists, so searches fail until the function has the new id, and the new one is empty until "
            "its data source is ingested.",
            "Rebuild it while the agent does not use it: set knowledgeBaseAttached to false for one "
            "deployment (the search tool leaves the gateway), make the change in the next, run `python -m "
            'client ingest`, then set knowledgeBaseAttached back to true (README, "Turning features on and '
            'off").',
            (step.urn, function.urn),
        )


def key_deleted_with_data(plan: Plan) -> Iterator[Hazard]:
    for key in plan.steps:
        if key.type != KMS_KEY or key.op != DELETE or key.old is None or key.old.retain_on_delete:
            continue
        holders = [
            step
            for step in plan.steps
            if step.old is not None
            and step is not key
            and (step.op == UPDATE or (step.op == DELETE and step.old.retain_on_delete))
            and any(key.old.urn in urns for urns in step.old.property_dependencies.values())
        ]
        if not holders:
            continue
        yield Hazard(
            "key-deleted-with-data",
            f"wave {key.delete_wave}: {_name(key)} is deleted (KMS schedules its deletion; after the waiting "
            "period nothing encrypted with it can be read) while "
            + ", ".join(_name(h) for h in holders)
            + " stop using it but keep what they encrypted with it (agent versions, objects already stored).",
            "Keep the key: give it retain_on_delete (it leaves the stack and stays enabled; schedule its "
            "deletion yourself once nothing needs it), or re-encrypt the data under another key first.",
            (key.urn, *(h.urn for h in holders)),
        )


def protected_removed(plan: Plan) -> Iterator[Hazard]:
    for step in plan.steps:
        if step.op not in (DELETE, REPLACE) or step.old is None or not step.old.protect:
            continue
        verb = "delete" if step.op == DELETE else "replace"
        yield Hazard(
            "protected-removed",
            f"{_name(step)} is protected (protectStatefulResources) and the plan would {verb} it: the "
            f'engine refuses ("unable to {verb} resource ... as it is currently marked for protection") '
            "and the deployment stops there.",
            "Keep the setting that holds it; or, once its data is saved or no longer wanted, unprotect it "
            f"first: pulumi state unprotect '{step.urn}', then run the deployment again.",
            (step.urn,),
        )


def _grant_steps_for_role(plan: Plan, role_urn: str) -> list[Step]:
    found = []
    for step in plan.steps:
        resource = step.new or step.old
        if resource is None or not _active(step):
            continue
        if (step.urn == role_urn and step.type == ROLE) or (
            step.type in ROLE_GRANTS and _dep(resource, "role") == role_urn
        ):
            found.append(step)
    return found


def _depends_on(
    resource: ResourceSnapshot, urn: str, by_urn: dict[str, ResourceSnapshot], seen: set[str]
) -> bool:
    for dep in set(resource.dependencies) | {u for us in resource.property_dependencies.values() for u in us}:
        if dep == urn:
            return True
        if dep not in seen and dep in by_urn:
            seen.add(dep)
            if _depends_on(by_urn[dep], urn, by_urn, seen):
                return True
    return False


def grant_not_in_force(plan: Plan) -> Iterator[Hazard]:
    new_by_urn = {step.new.urn: step.new for step in plan.steps if step.new is not None}
    # A sleep waits when it is created (or replaced: its triggers force that), not when updated.
    waits = [step for step in plan.steps if step.type in PROPAGATION_WAITS and step.op in (CREATE, REPLACE)]
    for validator in plan.steps:
        role_input = VALIDATORS.get(validator.type)
        if role_input is None or not _active(validator) or validator.new is None:
            continue
        role = _dep(validator.new, role_input)
        if role is None:
            continue
        for grant in _grant_steps_for_role(plan, role):
            if grant.wave < validator.wave and any(
                grant.wave < wait.wave < validator.wave
                and wait.new is not None
                and _depends_on(wait.new, grant.urn, new_by_urn, set())
                and _depends_on(validator.new, wait.urn, new_by_urn, set())
                for wait in waits
            ):
                continue
            timing = "in the same wave as" if grant.wave >= validator.wave else "just before"
            yield Hazard(
                "grant-not-in-force",
                f"wave {grant.wave}: {_name(grant)} writes the role's permissions {timing} "
                f"{_name(validator)} (wave {validator.wave}), whose {validator.op} validates them "
                "synchronously; IAM is eventually consistent, so the first attempt can fail with "
                "AccessDenied.",
                "Have the permission in force before the validating call: write it in an earlier deployment "
                "or put a propagation wait between the grant and the resource (it depends on the grant, the "
                "resource depends on it), and keep the old grant until the resource has moved.",
                (grant.urn, validator.urn),
            )


def _holds_eni_grant(resource: ResourceSnapshot) -> bool:
    """An inline policy allowing ec2:DeleteNetworkInterface, or an attached AWS managed policy that does."""
    if resource.type == "aws:iam/rolePolicy:RolePolicy":
        return _grants_actions(_document(resource.inputs.get("policy")), ENI_CLEANUP_ACTIONS)
    if resource.type == "aws:iam/rolePolicyAttachment:RolePolicyAttachment":
        return str(resource.inputs.get("policyArn", "")).endswith(ENI_MANAGED_POLICIES)
    return False


def eni_grant_deleted_first(plan: Plan) -> Iterator[Hazard]:
    deletes = {step.urn: step for step in plan.steps if step.op == DELETE}
    deletes.update({step.old.urn: step for step in plan.steps if step.op == REPLACE and step.old is not None})
    for function in [s for s in plan.steps if s.type == FUNCTION and s.op in (DELETE, REPLACE) and s.old]:
        old = function.old
        assert old is not None
        network = [
            deletes[urn]
            for urn in old.property_dependencies.get("vpcConfig", ())
            if urn in deletes and deletes[urn].type in NETWORK_TYPES
        ]
        if not network:
            continue
        last_network = max(step.delete_wave for step in network)
        role = _dep(old, "role")
        holders = []
        for step in deletes.values():
            resource = step.old
            if resource is None or step.op != DELETE:
                continue
            is_role = step.urn == role and step.type == ROLE
            if is_role or (_dep(resource, "role") == role and _holds_eni_grant(resource)):
                holders.append(step)
        for holder in holders:
            if holder.delete_wave > last_network:
                continue
            yield Hazard(
                "eni-grant-deleted-first",
                f"wave {holder.delete_wave}: {_name(holder)} (the ENI clean-up permission of "
                f"{_name(function)}) is deleted before its subnets and security groups (up to wave "
                f"{last_network}); Lambda deletes the function's network interfaces afterwards with that "
                "role, so they stay and the subnets and groups fail with DependencyViolation.",
                "Make the grant outlive the network on destroy: the subnets and security groups the function "
                "uses depend on the grant (deleted first), or the grant is retained and removed afterwards.",
                (holder.urn, function.urn),
            )


CHECKS: tuple[Callable[[Plan], Iterator[Hazard]], ...] = (
    concurrent_prepare,
    grant_narrowed_before_move,
    snapshot_before_delete,
    name_taken_on_replace,
    live_knowledge_base_rebuilt,
    key_deleted_with_data,
    protected_removed,
    grant_not_in_force,
    eni_grant_deleted_first,
)


def check(plan: Plan) -> list[Hazard]:
    found: dict[tuple[str, tuple[str, ...]], Hazard] = {}
    for run in CHECKS:
        for hazard in run(plan):
            found.setdefault((hazard.rule, hazard.urns), hazard)
    return list(found.values())


def render(hazards: list[Hazard]) -> list[str]:
    mark = "✅" if not hazards else "❌"
    lines = ["Plan hazards:", f"    {mark} {len(hazards)} mandatory hazard(s) in the step plan"]
    for hazard in hazards:
        lines.append(f"        - [{hazard.enforcement_level}]  {hazard.rule}")
        lines.append(f"          {hazard.message}")
        lines.append(f"          Remediation: {hazard.remediation}")
    return lines


def to_json(hazards: list[Hazard]) -> list[dict[str, Any]]:
    return [
        {
            "rule": h.rule,
            "message": h.message,
            "remediation": h.remediation,
            "urns": list(h.urns),
            "enforcementLevel": h.enforcement_level,
        }
        for h in hazards
    ]
