"""The guardrail, the knowledge base, the agent's key and the monitoring, as the program wires them."""

from __future__ import annotations

import json
from typing import Any

import pytest

from components.config import GUARDRAIL_CONTENT_CATEGORIES, GUARDRAIL_PII_ENTITIES
from offline.engine import MOCK_ACCOUNT_ID, ProgramRun
from tests.program.conftest import RunProgram, policy_document
from tests.program.test_config import failure

AGENT = "aws:bedrock/agentAgent:AgentAgent"
ALIAS = "aws:bedrock/agentAgentAlias:AgentAgentAlias"
GUARDRAIL = "aws:bedrock/guardrail:Guardrail"
GUARDRAIL_VERSION = "aws:bedrock/guardrailVersion:GuardrailVersion"
KB = "aws:bedrock/agentKnowledgeBase:AgentKnowledgeBase"
DATA_SOURCE = "aws:bedrock/agentDataSource:AgentDataSource"
ASSOCIATION = "aws:bedrock/agentAgentKnowledgeBaseAssociation:AgentAgentKnowledgeBaseAssociation"
VECTOR_BUCKET = "aws:s3/vectorsVectorBucket:VectorsVectorBucket"
INDEX = "aws:s3/vectorsIndex:VectorsIndex"
BUCKET = "aws:s3/bucket:Bucket"
OBJECT = "aws:s3/bucketObjectv2:BucketObjectv2"
ROLE = "aws:iam/role:Role"
ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy"
KEY = "aws:kms/key:Key"
TOPIC = "aws:sns/topic:Topic"
ALARM = "aws:cloudwatch/metricAlarm:MetricAlarm"
DASHBOARD = "aws:cloudwatch/dashboard:Dashboard"
FILTER = "aws:cloudwatch/logMetricFilter:LogMetricFilter"
FUNCTION = "aws:lambda/function:Function"
BYO_KEY_ID = "11111111-2222-3333-4444-555555555555"


@pytest.fixture
def dev(program: RunProgram) -> ProgramRun:
    return program("dev")


def sids(run: ProgramRun, policy_name: str) -> dict[str, dict[str, Any]]:
    document = policy_document(run.one(ROLE_POLICY, policy_name).inputs["policy"])
    return {statement["Sid"]: statement for statement in document["Statement"]}


def test_the_guardrail_is_built_from_the_settings_and_its_pinned_version_is_attached(dev: ProgramRun) -> None:
    guardrail = dev.one(GUARDRAIL)
    version = dev.one(GUARDRAIL_VERSION)
    inputs = guardrail.inputs
    filters = {
        f["type"]: (f["inputStrength"], f["outputStrength"])
        for f in inputs["contentPolicyConfig"]["filtersConfigs"]
    }
    assert filters == {
        category: ("HIGH", "NONE" if category == "PROMPT_ATTACK" else "HIGH")
        for category in GUARDRAIL_CONTENT_CATEGORIES
    }
    pii = {e["type"]: e["action"] for e in inputs["sensitiveInformationPolicyConfig"]["piiEntitiesConfigs"]}
    assert pii["AWS_SECRET_KEY"] == "BLOCK"
    assert pii["EMAIL"] == "ANONYMIZE"
    (topic,) = inputs["topicPolicyConfig"]["topicsConfigs"]
    assert topic["type"] == "DENY"
    assert topic["name"] == "Investment advice"
    assert inputs["wordPolicyConfig"] == {"managedWordListsConfigs": [{"type": "PROFANITY"}]}
    # Dev has a knowledge base, so answers are checked against the retrieved passages.
    assert inputs["contextualGroundingPolicyConfig"]["filtersConfigs"] == [
        {"type": "GROUNDING", "threshold": 0.75},
        {"type": "RELEVANCE", "threshold": 0.5},
    ]
    assert "kmsKeyArn" not in inputs  # dev: AWS-owned key (agentKmsKey is off)
    assert version.inputs["guardrailArn"] == guardrail.outputs["guardrailArn"]
    assert version.replacement_trigger is not None
    agent = dev.one(AGENT).inputs
    assert agent["guardrailConfigurations"] == [
        {
            "guardrailIdentifier": guardrail.outputs["guardrailId"],
            "guardrailVersion": version.outputs["version"],
        }
    ]
    assert (
        sids(dev, "agent-model-access")["ApplyTheGuardrail"]["Resource"] == guardrail.outputs["guardrailArn"]
    )
    # The invoker names the same pinned version: it reads the agent's guardrail trace to report
    # interventions (docs/api.md), and needs no ApplyGuardrail of its own on Classic.
    env = dev.one(FUNCTION, "invoker-function").inputs["environment"]["variables"]
    assert (env["GUARDRAIL_ID"], env["GUARDRAIL_VERSION"]) == (
        guardrail.outputs["guardrailId"],
        version.outputs["version"],
    )
    assert "ApplyTheGuardrail" not in sids(dev, "invoker-permissions")


def test_a_guardrail_change_makes_a_new_version_and_moves_the_alias(program: RunProgram) -> None:
    before, after = program("dev"), program("dev", guardrailBlockedWords=["project-x"])
    old, new = before.one(GUARDRAIL_VERSION), after.one(GUARDRAIL_VERSION)
    assert old.replacement_trigger != new.replacement_trigger
    assert old.inputs["description"] != new.inputs["description"]
    assert before.one(ALIAS).inputs["agentAliasName"] != after.one(ALIAS).inputs["agentAliasName"]
    assert after.one(GUARDRAIL).inputs["wordPolicyConfig"]["wordsConfigs"] == [{"text": "project-x"}]
    # Unrelated settings keep the version (and the alias).
    same = program("dev", logRetentionDays=90)
    assert same.one(GUARDRAIL_VERSION).replacement_trigger == old.replacement_trigger


def test_the_knowledge_base_stores_vectors_in_s3_vectors_and_is_associated(dev: ProgramRun) -> None:
    kb = dev.one(KB)
    index = dev.one(INDEX).inputs
    assert index["vectorBucketName"] == dev.one(VECTOR_BUCKET).inputs["vectorBucketName"]
    assert index["dimension"] == 1024
    assert index["distanceMetric"] == "cosine"
    assert index["metadataConfiguration"] == {
        "nonFilterableMetadataKeys": ["AMAZON_BEDROCK_TEXT", "AMAZON_BEDROCK_METADATA"]
    }
    config = kb.inputs["knowledgeBaseConfiguration"]["vectorKnowledgeBaseConfiguration"]
    assert (
        config["embeddingModelArn"]
        == "arn:aws:bedrock:us-east-1::foundation-model/amazon.titan-embed-text-v2:0"
    )
    assert config["embeddingModelConfiguration"]["bedrockEmbeddingModelConfiguration"]["dimensions"] == 1024
    assert kb.inputs["storageConfiguration"] == {
        "type": "S3_VECTORS",
        "s3VectorsConfiguration": {"indexArn": dev.one(INDEX).outputs["indexArn"]},
    }
    source = dev.one(DATA_SOURCE).inputs
    bucket = dev.one(BUCKET, "knowledge-documents")
    assert source["knowledgeBaseId"] == kb.outputs["id"]
    assert source["dataSourceConfiguration"]["s3Configuration"] == {
        "bucketArn": bucket.outputs["arn"],
        "inclusionPrefixes": ["documents/"],
    }
    assert source["vectorIngestionConfiguration"]["chunkingConfiguration"] == {
        "chunkingStrategy": "FIXED_SIZE",
        "fixedSizeChunkingConfiguration": {"maxTokens": 300, "overlapPercentage": 20},
    }
    association = dev.one(ASSOCIATION)
    assert association.inputs["agentId"] == dev.one(AGENT).outputs["agentId"]
    assert association.inputs["agentVersion"] == "DRAFT"
    assert association.inputs["knowledgeBaseId"] == kb.outputs["id"]
    assert association.urn in dev.one(ALIAS).dependencies  # the alias's version snapshots the association
    # Not while an action group prepares the same DRAFT: after the last one.
    assert dev.one("aws:bedrock/agentAgentActionGroup:AgentAgentActionGroup", "agent-client-tools").urn in (
        association.dependencies
    )
    assert sids(dev, "agent-model-access")["RetrieveFromTheKnowledgeBase"]["Resource"] == [kb.outputs["arn"]]
    # The sample corpus is uploaded under the prefix the data source reads.
    keys = sorted(o.inputs["key"] for o in dev.of_type(OBJECT) if o.name.startswith("knowledge-"))
    assert keys == ["documents/deployment.md", "documents/operations.md", "documents/security.md"]


def test_the_knowledge_base_role_reads_embeds_and_writes_exactly_its_own(dev: ProgramRun) -> None:
    kb = dev.one(KB)
    role = dev.one(ROLE, "knowledge-role")
    assert kb.inputs["roleArn"] == role.outputs["arn"]
    (trust,) = policy_document(role.inputs["assumeRolePolicy"])["Statement"]
    assert trust["Condition"]["ArnLike"] == {
        "aws:SourceArn": f"arn:aws:bedrock:us-east-1:{MOCK_ACCOUNT_ID}:knowledge-base/*"
    }
    statements = sids(dev, "knowledge-access")
    bucket_arn = dev.one(BUCKET, "knowledge-documents").outputs["arn"]
    assert statements["ReadTheDocuments"]["Resource"] == f"{bucket_arn}/documents/*"
    assert statements["ListTheDocuments"]["Resource"] == bucket_arn
    assert statements["StoreAndQueryTheVectors"]["Resource"] == dev.one(INDEX).outputs["indexArn"]
    assert statements["EmbedWithTheConfiguredModel"]["Resource"].endswith(
        "foundation-model/amazon.titan-embed-text-v2:0"
    )
    assert set(statements) == {
        "EmbedWithTheConfiguredModel",
        "ListTheDocuments",
        "ReadTheDocuments",
        "StoreAndQueryTheVectors",
    }
    # The knowledge base is created after its role may do all that.
    assert dev.one(ROLE_POLICY, "knowledge-access").urn in kb.dependencies


def test_the_document_bucket_is_private_versioned_encrypted_and_tls_only(dev: ProgramRun) -> None:
    bucket_id = dev.one(BUCKET, "knowledge-documents").outputs["id"]
    pab = dev.one(
        "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock", "knowledge-documents-public-access"
    ).inputs
    assert pab["bucket"] == bucket_id
    assert all(
        pab[flag] is True
        for flag in ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets")
    )
    versioning = dev.one("aws:s3/bucketVersioning:BucketVersioning", "knowledge-documents-versioning").inputs
    assert versioning["versioningConfiguration"] == {"status": "Enabled"}
    sse = dev.one(
        "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
        "knowledge-documents-encryption",
    ).inputs
    assert sse["rules"][0]["applyServerSideEncryptionByDefault"] == {"sseAlgorithm": "AES256"}
    (deny,) = policy_document(
        dev.one("aws:s3/bucketPolicy:BucketPolicy", "knowledge-documents-policy").inputs["policy"]
    )["Statement"]
    assert deny["Effect"] == "Deny"
    assert deny["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}


def test_the_agent_key_encrypts_agent_guardrail_and_knowledge_base(program: RunProgram) -> None:
    run = program("dev", agentKmsKey=True)
    key = run.one(KEY, "agent-key-key")
    arn = key.outputs["arn"]
    assert key.inputs["enableKeyRotation"] is True
    assert run.one(AGENT).inputs["customerEncryptionKeyArn"] == arn
    assert run.one(GUARDRAIL).inputs["kmsKeyArn"] == arn
    assert run.one(DATA_SOURCE).inputs["serverSideEncryptionConfiguration"] == {"kmsKeyArn": arn}
    assert run.one(VECTOR_BUCKET).inputs["encryptionConfigurations"] == [
        {"sseType": "aws:kms", "kmsKeyArn": arn}
    ]
    sse = run.one(
        "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
        "knowledge-documents-encryption",
    )
    assert sse.inputs["rules"][0]["applyServerSideEncryptionByDefault"] == {
        "sseAlgorithm": "aws:kms",
        "kmsMasterKeyId": arn,
    }
    assert sids(run, "agent-model-access")["UseTheAgentKey"]["Resource"] == arn
    assert sids(run, "knowledge-access")["UseTheAgentKey"]["Resource"] == arn
    invoker = (
        json.loads(run.one(ROLE_POLICY, "invoker-policy").inputs["policy"])
        if any(p.name == "invoker-policy" for p in run.of_type(ROLE_POLICY))
        else None
    )
    if invoker is not None:
        use = next(s for s in invoker["Statement"] if s["Sid"] == "UseTheAgentKeyForThisAgent")
        assert use["Condition"] == {
            "StringEquals": {"kms:EncryptionContext:aws:bedrock:arn": run.one(AGENT).outputs["agentArn"]}
        }
    # Prod turns it on by default; dev does not.
    assert (
        program("prod").one(AGENT).inputs["customerEncryptionKeyArn"]
        == program("prod").one(KEY, "agent-key-key").outputs["arn"]
    )
    assert "customerEncryptionKeyArn" not in program("dev").one(AGENT).inputs


def test_alarms_notify_the_encrypted_topic_and_the_dashboard_watches_this_stack(dev: ProgramRun) -> None:
    topic = dev.one(TOPIC)
    assert topic.inputs["kmsMasterKeyId"] == dev.one(KEY, "logs-key").outputs["arn"]
    alarms = {a.inputs["name"].rsplit("-dev-", 1)[1]: a.inputs for a in dev.of_type(ALARM)}
    assert set(alarms) == {
        "invoker-errors",
        "invoker-throttles",
        "action-group-errors",
        "api-5xx",
        "agent-server-errors",
    }
    for alarm in alarms.values():
        assert alarm["alarmActions"] == [topic.outputs["arn"]]
        assert alarm["treatMissingData"] == "notBreaching"
    assert alarms["invoker-errors"]["dimensions"] == {"FunctionName": "bedrock-vpc-agent-dev-invoker"}
    assert alarms["api-5xx"]["dimensions"] == {"ApiName": "bedrock-vpc-agent-dev-chat", "Stage": "v1"}
    assert alarms["agent-server-errors"]["namespace"] == "AWS/Bedrock/Agents"
    # CloudWatch may use the logs key for the topic; its policy admits only this account's alarms.
    key_policy = policy_document(dev.one(KEY, "logs-key").inputs["policy"])
    assert any(s.get("Principal") == {"Service": "cloudwatch.amazonaws.com"} for s in key_policy["Statement"])
    topic_policy = policy_document(dev.one("aws:sns/topicPolicy:TopicPolicy").inputs["policy"])
    publish = next(s for s in topic_policy["Statement"] if s["Sid"] == "CloudWatchAlarmsOfThisAccountPublish")
    assert publish["Condition"] == {"StringEquals": {"aws:SourceAccount": MOCK_ACCOUNT_ID}}
    body = json.loads(dev.one(DASHBOARD).inputs["dashboardBody"])
    text = json.dumps(body)
    assert dev.one(ALIAS).outputs["agentAliasArn"] in text
    for metric in (
        "Errors",
        "Throttles",
        "Duration",
        "4XXError",
        "5XXError",
        "Latency",
        "InputTokenCount",
        "OutputTokenCount",
        "InvocationServerErrors",
        "InvocationClientErrors",
        "InvocationThrottles",
        "TotalTime",
        "InvocationCount",
    ):
        assert metric in text, metric
    filters = {f.inputs["name"]: f.inputs for f in dev.of_type(FILTER)}
    invoker_logs = (
        dev.one(FUNCTION, "invoker-function").inputs["loggingConfig"]["logGroup"]
        if "loggingConfig" in dev.one(FUNCTION, "invoker-function").inputs
        else None
    )
    for spec in filters.values():
        assert spec["logGroupName"] == (invoker_logs or "/aws/lambda/bedrock-vpc-agent-dev-invoker")
    assert filters["bedrock-vpc-agent-dev-server-error-codes"]["metricTransformation"]["dimensions"] == {
        "ErrorCode": "$.error_code"
    }
    assert not dev.of_type("aws:sns/topicSubscription:TopicSubscription")


def test_an_alarm_email_subscribes_to_the_topic(program: RunProgram) -> None:
    run = program("dev", alarmEmail="ops@example.com")
    subscription = run.one("aws:sns/topicSubscription:TopicSubscription").inputs
    assert subscription == {
        **subscription,
        "protocol": "email",
        "endpoint": "ops@example.com",
        "topic": run.one(TOPIC).outputs["arn"],
    }


def test_features_turn_off(program: RunProgram) -> None:
    run = program("dev", guardrailEnabled=False, knowledgeBaseEnabled=False)
    for type_ in (GUARDRAIL, KB, INDEX):
        assert not run.of_type(type_), type_
    assert [bucket.name for bucket in run.of_type(BUCKET)] == ["web-bucket"]  # the page's, not documents
    assert "guardrailConfigurations" not in run.one(AGENT).inputs
    assert set(sids(run, "agent-model-access")) == {
        "InvokeTheInferenceProfile",
        "InvokeItsModelInAnyDestinationRegion",
        "ReadTheInferenceProfile",
    }


def test_the_vocabularies_match_the_bedrock_api_model() -> None:
    import botocore.session

    shapes = botocore.session.get_session().get_service_model("bedrock")
    assert tuple(shapes.shape_for("GuardrailPiiEntityType").enum) == GUARDRAIL_PII_ENTITIES
    assert set(shapes.shape_for("GuardrailContentFilterType").enum) == set(GUARDRAIL_CONTENT_CATEGORIES)


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        (
            {"guardrailContentFilters": {"HATE": "EXTREME"}},
            "HATE: 'EXTREME' is not one of NONE, LOW, MEDIUM, HIGH",
        ),
        ({"guardrailContentFilters": {"HATRED": "HIGH"}}, "'HATRED' is not a category. Did you mean 'HATE'?"),
        ({"guardrailPiiEntities": {"EMAIL": "MASK"}}, "EMAIL: 'MASK' is not one of BLOCK, ANONYMIZE"),
        ({"guardrailPiiEntities": {"SSN": "BLOCK"}}, "'SSN' is not a PII entity type"),
        ({"guardrailDeniedTopics": [{"name": "x", "definition": "d" * 201}]}, "definition must be 1 to 200"),
        ({"guardrailDeniedTopics": [{"name": "a/b", "definition": "d"}]}, "name must be 1 to 100 letters"),
        (
            {"guardrailDeniedTopics": [{"name": "x", "definition": "d", "example": ["e"]}]},
            "unknown field(s) example",
        ),
        ({"guardrailGroundingThreshold": 1.5}, "1.5 is out of range; use 0.0 to 0.99"),
        ({"guardrailBlockedMessage": ""}, "guardrailBlockedMessage"),
        ({"agentGuardrailId": "abc", "agentGuardrailVersion": "1"}, "turn guardrailEnabled off to attach"),
        (
            {
                "agentKmsKey": True,
                "agentKmsKeyArn": f"arn:aws:kms:us-east-1:{MOCK_ACCOUNT_ID}:key/{BYO_KEY_ID}",
            },
            "set only one of them",
        ),
        ({"knowledgeBaseChunking": "SEMANTIC"}, "'SEMANTIC' is not one of FIXED_SIZE, NONE"),
        ({"knowledgeBaseEmbeddingDimensions": 5000}, "5000 is out of range; use 1 to 4096"),
        ({"knowledgeBaseChunkOverlapPercent": 0}, "0 is out of range; use 1 to 99"),
        ({"knowledgeBaseEmbeddingModel": "titan embed"}, "is not a Bedrock embedding model id"),
        ({"alarmEmail": "ops-at-example"}, "'ops-at-example' is not an email address"),
    ],
)
def test_bad_ops_settings_fail_with_what_to_change(
    program: RunProgram, overrides: dict[str, Any], expected: str
) -> None:
    assert expected in failure(program, **overrides)
