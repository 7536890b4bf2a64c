"""The Bedrock Agent: its service role, the agent, its Lambda action group, and a live alias.

The alias problem. An agent alias points at a numbered agent *version*, a frozen snapshot of the
agent (instruction, model, action groups) taken when the alias is created. Updating the agent only
changes its DRAFT; the alias keeps serving the old version, so `pulumi up` "succeeds" while callers
still talk to the old agent. Updating the alias does not help either: the provider sends back the
alias's current routing, i.e. the old version.

The fix here: every input that is frozen into a version (instruction, model, session TTL, guardrail,
KMS key, prompt overrides, memory, the action groups and their schemas, executors, states and
descriptions) is hashed into a `definition_hash`: `agent_version_inputs` and
`action_group_version_inputs` are the inputs the resources get and the hash covers, and
tests/components/test_definition_hash.py derives the list from pulumi-aws's input types, so a new
field cannot be left out silently. The alias is named `live-<hash>` and carries the hash as a
`replacement_trigger`, so any change replaces it: Pulumi creates the new alias after the agent and
its action groups are updated and prepared (it depends on them), Bedrock snapshots the prepared
DRAFT into a new version for it, the invoker's environment and IAM policy move to the new alias
id/ARN, and only then is the old alias deleted (create-before-delete, which the unique name
permits). Lambda code changes need no new version: versions reference the function by its
unqualified ARN.

Order on a real deploy (the mocks see none of it; tests/program/test_deploy_order.py reads it from the
registered dependencies):

- The role's permissions are in force before CreateAgent/UpdateAgent/PrepareAgent, which check them
  synchronously ("Ensure Agent role has valid permissions to use the inference profile",
  terraform-provider-aws #42847, aws-cdk #35120; the provider does not retry). The grant is a
  RolePolicy replaced create-before-delete whenever it changes (a model change writes a new policy and
  deletes the old one at the end of the deployment, after the alias moved, so the live version keeps
  its model meanwhile); a time.Sleep triggered by that policy waits for IAM to propagate; the agent
  depends on the Sleep, and the action groups (which prepare the agent) on the agent. So on the first
  deploy and on a model change the engine runs: grant, wait, agent, action groups, alias.
- Action groups are created and updated one at a time (each depends on the previous one): each of them
  prepares the agent, and a second PrepareAgent while one is running fails with "Prepare operation
  can't be performed on Agent when it is in Preparing state" (terraform-provider-aws #42845).
- Removing an action group takes two deployments, because Pulumi deletes at the end of a deployment
  (pulumi/pulumi#9979): a replacement alias would snapshot a DRAFT still holding the group. First
  mark it `enabled=False` (ToolGroup): the group is DISABLED, the definition hash (which counts
  enabled groups only) changes and the new alias's version no longer offers the tool; then remove it:
  the hash is unchanged, so no alias is replaced and the group is deleted at the end. README, "Changing
  the agent".
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Optional

import pulumi
import pulumi_aws as aws
import pulumiverse_time as time

from components.agent.base import AgentArgs, AgentKeySpec, KnowledgeBaseSpec, ToolGroup
from components.config import AGENT_ENDPOINT_SERVICES, KNOWLEDGE_TOOL_RUNTIMES, AgentSettings
from components.context import AwsContext
from components.function_schema import check_action_group_name, pulumi_aws_function_schema
from components.guardrail import GuardrailAttachment
from components.keys import key_use_statement

if TYPE_CHECKING:
    from pulumi_aws.bedrock import AgentAgentActionGroupFunctionSchemaArgsDict

MODEL_ACTIONS = ["bedrock:InvokeModel", "bedrock:InvokeModelWithResponseStream"]
# The test alias: it always serves the mutable DRAFT, so nothing may invoke it (the pack forbids it too).
DRAFT_ALIAS_ID = "TSTALIASID"
# How long IAM takes to make a new or changed role policy visible to Bedrock's synchronous check: AWS
# documents IAM as eventually consistent without a bound; the failures above succeed on a retry seconds
# later.
IAM_PROPAGATION_WAIT = "20s"


@dataclass
class ActionGroupSpec:
    """An action group: a Lambda executor (`function_arn`) or, when None, RETURN_CONTROL to the caller."""

    name: str
    description: str
    function_schema: AgentAgentActionGroupFunctionSchemaArgsDict
    function_arn: Optional[pulumi.Input[str]] = None
    # A stable identity of the executor for the definition hash (the ARN is only known later).
    executor_key: str = "RETURN_CONTROL"
    # False: the group stays, DISABLED, and leaves the definition hash (the first step of removing it).
    enabled: bool = True


def action_group_spec(group: ToolGroup) -> ActionGroupSpec:
    """A tool group as a Bedrock action group (Lambda executor, or RETURN_CONTROL without one)."""
    return ActionGroupSpec(
        name=check_action_group_name(group.name),
        description=group.description,
        function_schema=pulumi_aws_function_schema(group.functions),
        function_arn=group.function_arn,
        executor_key=group.executor_key,
        enabled=group.enabled,
    )


@dataclass(frozen=True)
class ModelAccess:
    """What the agent role may invoke: the configured model, resolved to ARNs."""

    model_arns: tuple[str, ...]  # foundation models; for a profile, in every region (see below)
    inference_profile_arn: Optional[str] = None


class BedrockAgent(pulumi.ComponentResource):
    """The Classic agent (an `AgentRuntime`): the invoker calls InvokeAgent on the live alias."""

    invoke_action = "InvokeAgent"
    endpoint_service = AGENT_ENDPOINT_SERVICES["classic"]
    # The agent searches its associated knowledge bases itself (AgentAgentKnowledgeBaseAssociation).
    searches_knowledge_bases = "classic" not in KNOWLEDGE_TOOL_RUNTIMES
    alias_prefix = "live"
    role: aws.iam.Role
    agent: aws.bedrock.AgentAgent
    alias: aws.bedrock.AgentAgentAlias
    definition_hash: str
    agent_id: pulumi.Output[str]
    agent_arn: pulumi.Output[str]
    alias_id: pulumi.Output[str]
    alias_arn: pulumi.Output[str]
    alias_version: pulumi.Output[str]

    def __init__(self, name: str, args: AgentArgs, opts: Optional[pulumi.ResourceOptions] = None) -> None:
        super().__init__("bedrock-vpc-agent:index:BedrockAgent", name, None, opts)
        self._name = name
        self._args = args
        action_groups = [action_group_spec(group) for group in args.tool_groups]
        access = resolve_model_access(args.context, args.settings)

        self.role, permissions_in_force = self._create_role(access)
        # What a version freezes goes to the resources and into the hash from the same dicts.
        description = f"{pulumi.get_project()} agent ({pulumi.get_stack()})"
        frozen_agent = agent_version_inputs(args.settings, description, args.guardrail, args.kms_key)
        self.agent = aws.bedrock.AgentAgent(
            f"{name}-agent",
            agent_name=args.agent_name,
            agent_resource_role_arn=self.role.arn,
            prepare_agent=True,
            **frozen_agent,
            opts=pulumi.ResourceOptions(parent=self, depends_on=[permissions_in_force]),
        )
        groups: list[aws.bedrock.AgentAgentActionGroup] = []
        for spec in action_groups:
            # One at a time: each group's create/update prepares the agent.
            groups.append(self._create_action_group(spec, after=groups[-1:]))
        # After the groups and one at a time too: each association prepares the same DRAFT.
        associations: list[aws.bedrock.AgentAgentKnowledgeBaseAssociation] = []
        for kb in args.knowledge_bases:
            associations.append(self._associate_knowledge_base(kb, after=[*groups, *associations][-1:]))
        self.definition_hash = version_hash(
            agent_version_inputs(args.settings, description, args.guardrail, args.kms_key, hashable=True),
            action_groups,
            [{"key": kb.key, "description": kb.description} for kb in args.knowledge_bases if kb.enabled],
        )
        self.alias = aws.bedrock.AgentAgentAlias(
            f"{name}-alias",
            agent_id=self.agent.agent_id,
            agent_alias_name=f"{self.alias_prefix}-{self.definition_hash}",
            description=f"Serves the agent definition {self.definition_hash}",
            opts=pulumi.ResourceOptions(
                parent=self,
                depends_on=[self.agent, *groups, *associations],
                replacement_trigger=self.definition_hash,
            ),
        )

        self.agent_id = self.agent.agent_id
        self.agent_arn = self.agent.agent_arn
        self.alias_id = self.alias.agent_alias_id
        self.alias_arn = self.alias.agent_alias_arn
        self.alias_version = self.alias.routing_configurations.apply(
            lambda routes: routes[0].agent_version if routes else ""
        )
        self.register_outputs(
            {
                "agent_id": self.agent_id,
                "alias_id": self.alias_id,
                "alias_arn": self.alias_arn,
                "definition_hash": self.definition_hash,
            }
        )

    # --- AgentRuntime ---
    @property
    def invoker_environment(self) -> Mapping[str, pulumi.Input[str]]:
        guardrail = self._args.guardrail
        return {
            "AGENT_ID": self.agent_id,
            "AGENT_ALIAS_ID": self.alias_id,
            # The agent applies it; the invoker reads its trace to report interventions.
            **(guardrail.invoker_environment if guardrail is not None else {}),
        }

    @property
    def invoker_statements(self) -> Sequence[Mapping[str, Any]]:
        statements = list(self._invoke_alias_statements())
        if self._args.kms_key is not None:
            # InvokeAgent on an agent with a customer-managed key: the caller must be allowed to use the
            # key for that agent ("Encryption of agent resources", Bedrock user guide).
            # The guardrail the stack encrypts with the same key needs nothing more here: the agent
            # applies it with its service role ("If you are using guardrails with an agent, attach
            # the permissions to a service role with permissions to create and manage agents", "Set
            # up permissions to use guardrails", guardrails-permissions.html), and that role holds
            # kms:Decrypt on the key (agent_role_policy, UseTheAgentKey). The invoker never calls
            # ApplyGuardrail on Classic, so it needs no decrypt beyond this agent-scoped one.
            statements.append(
                key_use_statement(
                    "UseTheAgentKeyForThisAgent",
                    self._args.kms_key.arn,
                    ["kms:GenerateDataKey", "kms:Decrypt"],
                    {"StringEquals": {"kms:EncryptionContext:aws:bedrock:arn": self.agent_arn}},
                )
            )
        return statements

    def endpoint_policies(self, invoker_role_arn: pulumi.Input[str]) -> Mapping[str, dict[str, Any]]:
        """Only the invoker's InvokeAgent on this agent's aliases, never on its draft alias."""
        allow, deny = self._invoke_alias_statements()
        return {
            self.endpoint_service: {
                "Version": "2012-10-17",
                "Statement": [{**allow, "Principal": {"AWS": invoker_role_arn}}, {**deny, "Principal": "*"}],
            }
        }

    @property
    def outputs(self) -> Mapping[str, pulumi.Input[Any]]:
        return {
            "agentId": self.agent_id,
            "agentAliasId": self.alias_id,
            "agentAliasArn": self.alias_arn,
            "agentDefinitionHash": self.definition_hash,
        }

    def _invoke_alias_statements(self) -> tuple[dict[str, Any], dict[str, Any]]:
        """InvokeAgent on any alias of this agent, and never on its draft alias.

        Not the live alias's ARN: it changes with every definition change, and the invoker's policy,
        the endpoint policy and the function's AGENT_ALIAS_ID would then change independently (tens of
        seconds of AccessDenied while one has moved and the other not). Every alias of this agent is
        one the program made (`live-<hash>`); the draft alias TSTALIASID is denied explicitly.
        """
        aliases = pulumi.Output.concat(self._args.context.arn("bedrock", "agent-alias/"), self.agent_id)
        return (
            {
                "Sid": "InvokeThisAgentsAliases",
                "Effect": "Allow",
                "Action": "bedrock:InvokeAgent",
                "Resource": pulumi.Output.concat(aliases, "/*"),
            },
            {
                "Sid": "NeverTheDraftAlias",
                "Effect": "Deny",
                "Action": "bedrock:InvokeAgent",
                "Resource": pulumi.Output.concat(aliases, f"/{DRAFT_ALIAS_ID}"),
            },
        )

    def _associate_knowledge_base(
        self, spec: KnowledgeBaseSpec, after: Sequence[pulumi.Resource]
    ) -> aws.bedrock.AgentAgentKnowledgeBaseAssociation:
        # On the DRAFT, like the action groups: the alias's new version snapshots it.
        return aws.bedrock.AgentAgentKnowledgeBaseAssociation(
            f"{self._name}-{spec.key}",
            agent_id=self.agent.agent_id,
            agent_version="DRAFT",
            knowledge_base_id=spec.knowledge_base_id,
            description=spec.description,
            # DISABLED (knowledgeBaseAttached false) is the first of two deployments that remove or rebuild
            # it: the association is deleted at the end of a deployment (pulumi/pulumi#9979), after a
            # replacement alias snapshots the DRAFT, so it leaves the agent's definition first.
            knowledge_base_state="ENABLED" if spec.enabled else "DISABLED",
            opts=pulumi.ResourceOptions(parent=self, depends_on=list(after)),
        )

    def _create_role(self, access: ModelAccess) -> tuple[aws.iam.Role, time.Sleep]:
        """The agent's role, its permissions, and the wait after which they are in force."""
        context = self._args.context
        role = aws.iam.Role(
            f"{self._name}-role",
            description="Service role of the Bedrock agent: invoke its one model",
            assume_role_policy=pulumi.Output.json_dumps(context.service_trust_policy("bedrock", "agent/*")),
            opts=pulumi.ResourceOptions(parent=self),
        )
        document = pulumi.Output.json_dumps(
            agent_role_policy(
                context,
                access,
                guardrail=self._args.guardrail,
                knowledge_bases=[kb for kb in self._args.knowledge_bases if kb.enabled],
                kms_key=self._args.kms_key,
            )
        )
        # Replaced, not updated, when it changes: the new policy (a new auto-generated name) is written
        # first and the old one deleted at the end of the deployment, after the alias moved.
        policy = aws.iam.RolePolicy(
            f"{self._name}-model-access",
            role=role.id,
            policy=document,
            opts=pulumi.ResourceOptions(parent=self, replace_on_changes=["policy"]),
        )
        # Runs again (replaced) whenever the role or its policy changes: its triggers force replacement.
        wait = time.Sleep(
            f"{self._name}-permissions-propagation",
            create_duration=IAM_PROPAGATION_WAIT,
            triggers={"role": role.arn, "policy": document},
            # time_sleep's triggers are RequiresReplace (terraform-provider-time); said here too.
            opts=pulumi.ResourceOptions(parent=self, depends_on=[policy], replace_on_changes=["triggers"]),
        )
        return role, wait

    def _create_action_group(
        self, spec: ActionGroupSpec, after: Sequence[pulumi.Resource]
    ) -> aws.bedrock.AgentAgentActionGroup:
        """The group, created after `after` (the previous group) and after its executor may be invoked."""
        role = spec.name.replace("_", "-")
        invoke_permission = (
            [
                # Only this agent, in this account, may invoke the action-group function.
                aws.lambda_.Permission(
                    f"{self._name}-{role}-invoke",
                    action="lambda:InvokeFunction",
                    function=spec.function_arn,
                    principal=self._args.context.service_principal("bedrock"),
                    source_arn=self.agent.agent_arn,
                    source_account=self._args.context.account_id,
                    opts=pulumi.ResourceOptions(parent=self),
                )
            ]
            if spec.function_arn is not None
            else []
        )
        return aws.bedrock.AgentAgentActionGroup(
            f"{self._name}-{role}",
            agent_id=self.agent.agent_id,
            agent_version="DRAFT",
            **action_group_version_inputs(spec),
            prepare_agent=True,
            # Only read on delete (DeleteAgentActionGroup's skipResourceInUseCheck): lets a removed
            # group be deleted while the agent's DRAFT still lists it.
            skip_resource_in_use_check=True,
            opts=pulumi.ResourceOptions(parent=self, depends_on=[*after, *invoke_permission]),
        )


def guardrail_configurations(
    guardrail: Optional[GuardrailAttachment], *, hashable: bool = False
) -> list[dict[str, Any]] | None:
    """The guardrail to attach; `hashable` names it by the digest of its definition (its id and
    version number are Outputs of the stack's own guardrail)."""
    if guardrail is None:
        return None
    if hashable:
        return [{"guardrail_definition": guardrail.digest}]
    return [{"guardrail_identifier": guardrail.identifier, "guardrail_version": guardrail.version}]


def agent_version_inputs(
    settings: AgentSettings,
    description: str,
    guardrail: Optional[GuardrailAttachment] = None,
    kms_key: Optional[AgentKeySpec] = None,
    *,
    hashable: bool = False,
) -> dict[str, Any]:
    """Every `AgentAgent` input an agent version freezes, by its `AgentAgentArgs` name. The agent is
    created with exactly these and they are hashed; None is "not set" (Bedrock's default). The inputs a
    version does not freeze are listed, with the reason, in tests/components/test_definition_hash.py."""
    return {
        "description": description,
        "foundation_model": settings.foundation_model,
        "instruction": settings.instruction,
        "idle_session_ttl_in_seconds": settings.idle_session_ttl_seconds,
        "guardrail_configurations": guardrail_configurations(guardrail, hashable=hashable),
        "customer_encryption_key_arn": (kms_key.key if hashable else kms_key.arn)
        if kms_key is not None
        else None,
        "prompt_override_configurations": None,  # Bedrock's default prompts
        "memory_configurations": None,  # no memory across sessions
        "agent_collaboration": None,  # not a multi-agent collaborator (DISABLED)
    }


def action_group_version_inputs(spec: ActionGroupSpec, *, hashable: bool = False) -> dict[str, Any]:
    """Every `AgentAgentActionGroup` input a version freezes, by its `AgentAgentActionGroupArgs` name.
    `hashable` replaces the executor (its Lambda ARN is an Output, known only later) by its stable
    identity, `executor_key`."""
    executor: aws.bedrock.AgentAgentActionGroupActionGroupExecutorArgsDict = (
        {"lambda_": spec.function_arn}
        if spec.function_arn is not None
        else {"custom_control": "RETURN_CONTROL"}
    )
    return {
        "action_group_name": spec.name,
        "description": spec.description,
        "action_group_executor": {"executor_key": spec.executor_key} if hashable else executor,
        # None is ENABLED (the provider's default); DISABLED is the first step of removing a group.
        "action_group_state": None if spec.enabled else "DISABLED",
        "function_schema": spec.function_schema,
        "api_schema": None,
        "parent_action_group_signature": None,
    }


def version_hash(
    agent_inputs: Mapping[str, Any],
    action_groups: Sequence[ActionGroupSpec],
    knowledge_bases: Sequence[Mapping[str, Any]] = (),
) -> str:
    """The definition hash of the agent with these groups. A disabled group is on its way out: it
    leaves the hash when it is disabled (the alias moves to a version without the tool), so deleting it
    afterwards changes nothing a version holds and replaces no alias."""
    return definition_hash(
        agent_inputs,
        [action_group_version_inputs(spec, hashable=True) for spec in action_groups if spec.enabled],
        knowledge_bases,
    )


def definition_hash(
    agent_inputs: Mapping[str, Any],
    action_groups: Sequence[Mapping[str, Any]],
    knowledge_bases: Sequence[Mapping[str, Any]] = (),
) -> str:
    """A short, stable digest of everything an agent version freezes (an Output in it is a TypeError:
    a value known only after deployment cannot decide the alias name)."""
    frozen: dict[str, Any] = {"agent": agent_inputs, "actionGroups": list(action_groups)}
    if knowledge_bases:  # absent rather than empty: stacks without one keep their hash
        frozen["knowledgeBases"] = list(knowledge_bases)
    return hashlib.sha256(json.dumps(frozen, sort_keys=True).encode()).hexdigest()[:12]


def resolve_model_access(context: AwsContext, settings: AgentSettings) -> ModelAccess:
    """The ARNs the agent role may invoke for `model`.

    A foundation model id or ARN is one ARN in this region. An inference profile (system profiles like
    `us.anthropic…`, or an ARN) routes to the same model in the profile's destination regions, which AWS
    extends over time; the role gets the forms AWS documents for cross-Region inference (Bedrock user
    guide, "Prerequisites for inference profiles" and "Geographic/Global cross-Region inference"): the
    profile's ARN, and the foundation model in any region (`arn:aws:bedrock:*::foundation-model/<id>`,
    which also matches the region-less ARN global profiles route to), usable only through that profile
    (condition bedrock:InferenceProfileArn). The model ids come from the provider's GetInferenceProfile;
    no region list is frozen into the policy.
    """
    model = settings.foundation_model
    if ":foundation-model/" in model:
        return ModelAccess(model_arns=(model,))
    is_profile = settings.inference_profile_geography is not None or "inference-profile/" in model
    if not is_profile:
        return ModelAccess(model_arns=(context.arn("bedrock", f"foundation-model/{model}", account=""),))
    profile = aws.bedrock.get_inference_profile(inference_profile_id=model)
    model_ids = sorted({item.model_arn.rsplit("/", 1)[-1] for item in profile.models if item.model_arn})
    if not model_ids:
        raise pulumi.RunError(f"Inference profile {model} lists no models; check agentFoundationModel.")
    return ModelAccess(
        model_arns=tuple(
            context.arn("bedrock", f"foundation-model/{mid}", region="*", account="") for mid in model_ids
        ),
        inference_profile_arn=profile.inference_profile_arn,
    )


def model_invoke_statements(access: ModelAccess) -> list[dict[str, Any]]:
    """InvokeModel on the configured model: the model itself, or (for an inference profile) the profile
    and its model in any destination region, usable only through that profile."""
    if access.inference_profile_arn is None:
        return [
            {
                "Sid": "InvokeTheConfiguredModel",
                "Effect": "Allow",
                "Action": MODEL_ACTIONS,
                "Resource": list(access.model_arns),
            }
        ]
    return [
        {
            "Sid": "InvokeTheInferenceProfile",
            "Effect": "Allow",
            "Action": MODEL_ACTIONS,
            "Resource": access.inference_profile_arn,
        },
        {
            "Sid": "InvokeItsModelInAnyDestinationRegion",
            "Effect": "Allow",
            "Action": MODEL_ACTIONS,
            "Resource": list(access.model_arns),
            "Condition": {"StringEquals": {"bedrock:InferenceProfileArn": access.inference_profile_arn}},
        },
    ]


def agent_role_policy(
    context: AwsContext,
    access: ModelAccess,
    *,
    guardrail: Optional[GuardrailAttachment] = None,
    knowledge_bases: Sequence[KnowledgeBaseSpec] = (),
    kms_key: Optional[AgentKeySpec] = None,
) -> dict[str, Any]:
    statements = model_invoke_statements(access)
    if access.inference_profile_arn:
        statements.append(
            {
                "Sid": "ReadTheInferenceProfile",
                "Effect": "Allow",
                "Action": "bedrock:GetInferenceProfile",
                "Resource": access.inference_profile_arn,
            }
        )
    if guardrail is not None:
        statements.append(guardrail.apply_statement())
    if knowledge_bases:
        # What an agent's service role needs to search a knowledge base (Bedrock user guide,
        # "Create a service role for Amazon Bedrock Agents").
        statements.append(
            {
                "Sid": "RetrieveFromTheKnowledgeBase",
                "Effect": "Allow",
                "Action": ["bedrock:Retrieve", "bedrock:RetrieveAndGenerate"],
                "Resource": [kb.knowledge_base_arn for kb in knowledge_bases],
            }
        )
    if kms_key is not None:
        statements.append(
            {
                "Sid": "UseTheAgentKey",
                "Effect": "Allow",
                "Action": ["kms:GenerateDataKey", "kms:Decrypt"],
                "Resource": kms_key.arn,
            }
        )
    return {"Version": "2012-10-17", "Statement": statements}
