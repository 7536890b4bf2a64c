"""The agent's knowledge base: the user's documents, embedded into a pay-per-use vector store.

- Documents: a private (public access blocked, bucket-owner-enforced, TLS-only), versioned, encrypted
  bucket; the program uploads the sample corpus in knowledge/ under `documents/`.
- Vectors: Amazon S3 Vectors (a vector bucket and one index). It bills storage, writes and queries, and
  nothing per hour, where OpenSearch Serverless bills at least two OCUs around the clock (prices and
  sources: offline/prices.json). Bedrock writes each chunk's text and metadata into the index under the
  keys AMAZON_BEDROCK_TEXT and AMAZON_BEDROCK_METADATA, which must be *non-filterable* metadata:
  filterable metadata is limited to 2 KB per vector and a chunk's text exceeds it ("Using S3 Vectors
  with Amazon Bedrock Knowledge Bases", S3 user guide). The dimension of the index is fixed at creation
  and must equal the embedding model's output (knowledgeBaseEmbeddingDimensions).
- The MANAGED knowledge-base type (the pinned bedrock-agent API model has it) keeps the vectors in a
  store Bedrock runs; no stored source prices it, so the sourced, pay-per-use S3 Vectors is used.
- The knowledge base's role may read exactly the documents prefix, invoke exactly the embedding model
  and write/query exactly the index (and use the agent key, when there is one).
- Ingestion is not a deployment step: `python -m client ingest` starts a job and waits for it.

Turning it off, or rebuilding it (README, "Turning features on and off"):
- The document bucket holds the user's documents, not only the sample corpus, and is versioned, so
  DeleteBucket would fail with BucketNotEmpty (and `force_destroy` would delete every version of the
  user's documents). The bucket and its settings (ownership, public access block, versioning,
  encryption, TLS-only policy) are `retain_on_delete`: turning the knowledge base off, or destroying
  the stack, leaves the bucket as it was, with the documents; the sample corpus objects are deleted
  (a delete marker each: their versions stay). Delete the bucket yourself when it is no longer needed.
- The vectors are derived data (re-ingested from the documents). The vector bucket and the index have
  fixed names, which are not auto-named, so the bridge would replace them create-before-delete and the
  create would fail while the old one holds the name (ConflictException; vector bucket names are unique
  per account and region, index names per vector bucket): they are replaced delete-before-replace. An
  encryption change (agentKmsKey) replaces both (S3 Vectors `encryptionConfigurations` is
  RequiresReplace in the Terraform provider), and with them the knowledge base; detach it first
  (knowledgeBaseAttached false) and run `python -m client ingest` afterwards.
"""

from __future__ import annotations

import mimetypes
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

import pulumi
import pulumi_aws as aws

from components.config import KnowledgeBaseSettings
from components.context import AwsContext
from components.keys import key_use_statement

DOCUMENTS_PREFIX = "documents/"
INDEX_NAME = "documents"
BEDROCK_NON_FILTERABLE_KEYS = ["AMAZON_BEDROCK_TEXT", "AMAZON_BEDROCK_METADATA"]
VECTOR_ACTIONS = [
    "s3vectors:GetIndex",
    "s3vectors:PutVectors",
    "s3vectors:GetVectors",
    "s3vectors:DeleteVectors",
    "s3vectors:QueryVectors",
]
CORPUS_SUFFIXES = frozenset({".md", ".txt", ".html", ".csv", ".pdf", ".docx"})


@dataclass
class KnowledgeBaseArgs:
    context: AwsContext
    settings: KnowledgeBaseSettings
    name_prefix: str  # "<project>-<stack>": physical names
    corpus_dir: Path
    kms_key_arn: Optional[pulumi.Input[str]] = None
    protect: bool = False


class KnowledgeBase(pulumi.ComponentResource):
    bucket: aws.s3.Bucket
    vector_bucket: aws.s3.VectorsVectorBucket
    index: aws.s3.VectorsIndex
    role: aws.iam.Role
    knowledge_base: aws.bedrock.AgentKnowledgeBase
    data_source: aws.bedrock.AgentDataSource
    knowledge_base_id: pulumi.Output[str]
    knowledge_base_arn: pulumi.Output[str]
    data_source_id: pulumi.Output[str]
    bucket_name: pulumi.Output[str]
    documents: list[aws.s3.BucketObjectv2]

    def __init__(
        self, name: str, args: KnowledgeBaseArgs, opts: Optional[pulumi.ResourceOptions] = None
    ) -> None:
        super().__init__("bedrock-vpc-agent:index:KnowledgeBase", name, None, opts)
        self._name = name
        self._args = args
        self.bucket, bucket_ready = self._create_bucket()
        self.documents = self._upload_corpus(bucket_ready)
        self.vector_bucket = aws.s3.VectorsVectorBucket(
            f"{name}-vectors",
            vector_bucket_name=f"{args.name_prefix}-kb-vectors",
            encryption_configurations=[_sse(args.kms_key_arn)],
            opts=pulumi.ResourceOptions(parent=self, protect=args.protect, delete_before_replace=True),
        )
        self.index = aws.s3.VectorsIndex(
            f"{name}-index",
            vector_bucket_name=self.vector_bucket.vector_bucket_name,
            index_name=INDEX_NAME,
            data_type="float32",
            dimension=args.settings.embedding_dimensions,
            distance_metric="cosine",
            metadata_configuration={"non_filterable_metadata_keys": BEDROCK_NON_FILTERABLE_KEYS},
            encryption_configurations=[_sse(args.kms_key_arn)],
            opts=pulumi.ResourceOptions(parent=self, protect=args.protect, delete_before_replace=True),
        )
        self.role, role_policy = self._create_role()
        self.knowledge_base = aws.bedrock.AgentKnowledgeBase(
            f"{name}-kb",
            name=f"{args.name_prefix}-kb",
            description=args.settings.description,
            role_arn=self.role.arn,
            knowledge_base_configuration={
                "type": "VECTOR",
                "vector_knowledge_base_configuration": {
                    "embedding_model_arn": embedding_model_arn(args.context, args.settings),
                    "embedding_model_configuration": {
                        "bedrock_embedding_model_configuration": {
                            "dimensions": args.settings.embedding_dimensions,
                            "embedding_data_type": "FLOAT32",
                        }
                    },
                },
            },
            storage_configuration={
                "type": "S3_VECTORS",
                "s3_vectors_configuration": {"index_arn": self.index.index_arn},
            },
            # Bedrock checks the role's access when the knowledge base is created.
            opts=pulumi.ResourceOptions(parent=self, depends_on=[role_policy]),
        )
        self.data_source = aws.bedrock.AgentDataSource(
            f"{name}-documents-source",
            knowledge_base_id=self.knowledge_base.id,
            name="documents",
            description=f"s3://<documents bucket>/{DOCUMENTS_PREFIX}",
            # Deleting the data source deletes its vectors too (the index is the stack's own).
            data_deletion_policy="DELETE",
            data_source_configuration={
                "type": "S3",
                "s3_configuration": {"bucket_arn": self.bucket.arn, "inclusion_prefixes": [DOCUMENTS_PREFIX]},
            },
            vector_ingestion_configuration={"chunking_configuration": chunking_configuration(args.settings)},
            server_side_encryption_configuration=(
                {"kms_key_arn": args.kms_key_arn} if args.kms_key_arn is not None else None
            ),
            # A data source belongs to one knowledge base (every data-source call names both ids), but
            # the Terraform provider's knowledge_base_id is not RequiresReplace: a rebuilt knowledge base
            # would get an UpdateDataSource on the new id with the old data source's id.
            opts=pulumi.ResourceOptions(parent=self, replace_on_changes=["knowledgeBaseId"]),
        )
        self.knowledge_base_id = self.knowledge_base.id
        self.knowledge_base_arn = self.knowledge_base.arn
        self.data_source_id = self.data_source.data_source_id
        self.bucket_name = self.bucket.bucket
        self.register_outputs(
            {
                "knowledge_base_id": self.knowledge_base_id,
                "data_source_id": self.data_source_id,
                "bucket_name": self.bucket_name,
            }
        )

    def _create_bucket(self) -> tuple[aws.s3.Bucket, list[pulumi.Resource]]:
        args, name = self._args, self._name
        # The user's documents outlive the knowledge base: the bucket and its settings stay as they are
        # when it is turned off or the stack destroyed (see the module docstring).
        child = pulumi.ResourceOptions(parent=self, retain_on_delete=True)
        bucket = aws.s3.Bucket(
            f"{name}-documents",
            bucket_prefix=f"{args.name_prefix[:36]}-kb-"[:37],
            opts=pulumi.ResourceOptions(parent=self, protect=args.protect, retain_on_delete=True),
        )
        ownership = aws.s3.BucketOwnershipControls(
            f"{name}-documents-ownership",
            bucket=bucket.id,
            rule={"object_ownership": "BucketOwnerEnforced"},
            opts=child,
        )
        public_access = aws.s3.BucketPublicAccessBlock(
            f"{name}-documents-public-access",
            bucket=bucket.id,
            block_public_acls=True,
            block_public_policy=True,
            ignore_public_acls=True,
            restrict_public_buckets=True,
            opts=child,
        )
        versioning = aws.s3.BucketVersioning(
            f"{name}-documents-versioning",
            bucket=bucket.id,
            versioning_configuration={"status": "Enabled"},
            opts=child,
        )
        encryption = aws.s3.BucketServerSideEncryptionConfiguration(
            f"{name}-documents-encryption",
            bucket=bucket.id,
            rules=[
                {
                    "apply_server_side_encryption_by_default": (
                        {"sse_algorithm": "aws:kms", "kms_master_key_id": args.kms_key_arn}
                        if args.kms_key_arn is not None
                        else {"sse_algorithm": "AES256"}
                    ),
                    "bucket_key_enabled": args.kms_key_arn is not None,
                }
            ],
            opts=child,
        )
        policy = aws.s3.BucketPolicy(
            f"{name}-documents-policy",
            bucket=bucket.id,
            policy=pulumi.Output.json_dumps(tls_only_bucket_policy(bucket.arn)),
            # S3 rejects a bucket policy while public access settings are being changed.
            opts=pulumi.ResourceOptions(parent=self, depends_on=[public_access], retain_on_delete=True),
        )
        return bucket, [ownership, public_access, versioning, encryption, policy]

    def _upload_corpus(self, bucket_ready: Sequence[pulumi.Resource]) -> list[aws.s3.BucketObjectv2]:
        documents = []
        for path in corpus_files(self._args.corpus_dir):
            documents.append(
                aws.s3.BucketObjectv2(
                    f"{self._name}-doc-{path.stem}",
                    bucket=self.bucket.id,
                    key=f"{DOCUMENTS_PREFIX}{path.name}",
                    source=pulumi.FileAsset(str(path)),
                    content_type=mimetypes.guess_type(path.name)[0] or "application/octet-stream",
                    # Uploaded once the bucket encrypts and versions what it stores.
                    opts=pulumi.ResourceOptions(parent=self, depends_on=list(bucket_ready)),
                )
            )
        return documents

    def _create_role(self) -> tuple[aws.iam.Role, aws.iam.RolePolicy]:
        context = self._args.context
        role = aws.iam.Role(
            f"{self._name}-role",
            description="Service role of the knowledge base: read its documents, embed them, store vectors",
            assume_role_policy=pulumi.Output.json_dumps(
                context.service_trust_policy("bedrock", "knowledge-base/*")
            ),
            opts=pulumi.ResourceOptions(parent=self),
        )
        policy = aws.iam.RolePolicy(
            f"{self._name}-access",
            role=role.id,
            policy=pulumi.Output.json_dumps(
                knowledge_base_role_policy(
                    context,
                    self._args.settings,
                    bucket_arn=self.bucket.arn,
                    index_arn=self.index.index_arn,
                    kms_key_arn=self._args.kms_key_arn,
                )
            ),
            # Replaced, not updated: a grant taken away (the agent key's) stays in force beside the new
            # policy until the end of the deployment, after what still uses it has moved.
            opts=pulumi.ResourceOptions(parent=self, replace_on_changes=["policy"]),
        )
        return role, policy


def corpus_files(corpus_dir: Path) -> list[Path]:
    """The documents to upload, in a stable order (names become resource names: keep them unique)."""
    if not corpus_dir.is_dir():
        return []
    return sorted(p for p in corpus_dir.iterdir() if p.is_file() and p.suffix.lower() in CORPUS_SUFFIXES)


def _sse(kms_key_arn: Optional[pulumi.Input[str]]) -> Any:
    return (
        {"sse_type": "aws:kms", "kms_key_arn": kms_key_arn}
        if kms_key_arn is not None
        else {"sse_type": "AES256"}
    )


def embedding_model_arn(context: AwsContext, settings: KnowledgeBaseSettings) -> str:
    return context.arn("bedrock", f"foundation-model/{settings.embedding_model}", account="")


def chunking_configuration(settings: KnowledgeBaseSettings) -> Any:
    if settings.chunking == "NONE":
        return {"chunking_strategy": "NONE"}
    return {
        "chunking_strategy": "FIXED_SIZE",
        "fixed_size_chunking_configuration": {
            "max_tokens": settings.chunk_max_tokens,
            "overlap_percentage": settings.chunk_overlap_percent,
        },
    }


def tls_only_bucket_policy(bucket_arn: pulumi.Input[str]) -> dict[str, Any]:
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "DenyInsecureTransport",
                "Effect": "Deny",
                "Principal": "*",
                "Action": "s3:*",
                "Resource": [bucket_arn, pulumi.Output.concat(bucket_arn, "/*")],
                "Condition": {"Bool": {"aws:SecureTransport": "false"}},
            }
        ],
    }


def knowledge_base_role_policy(
    context: AwsContext,
    settings: KnowledgeBaseSettings,
    *,
    bucket_arn: pulumi.Input[str],
    index_arn: pulumi.Input[str],
    kms_key_arn: Optional[pulumi.Input[str]],
) -> dict[str, Any]:
    statements: list[dict[str, Any]] = [
        {
            "Sid": "EmbedWithTheConfiguredModel",
            "Effect": "Allow",
            "Action": "bedrock:InvokeModel",
            "Resource": embedding_model_arn(context, settings),
        },
        {
            "Sid": "ListTheDocuments",
            "Effect": "Allow",
            "Action": "s3:ListBucket",
            "Resource": bucket_arn,
            "Condition": {
                "StringLike": {"s3:prefix": [f"{DOCUMENTS_PREFIX}*"]},
                "StringEquals": {"aws:ResourceAccount": context.account_id},
            },
        },
        {
            "Sid": "ReadTheDocuments",
            "Effect": "Allow",
            "Action": "s3:GetObject",
            "Resource": pulumi.Output.concat(bucket_arn, f"/{DOCUMENTS_PREFIX}*"),
            "Condition": {"StringEquals": {"aws:ResourceAccount": context.account_id}},
        },
        {
            "Sid": "StoreAndQueryTheVectors",
            "Effect": "Allow",
            "Action": VECTOR_ACTIONS,
            "Resource": index_arn,
        },
    ]
    if kms_key_arn is not None:
        statements.append(
            key_use_statement("UseTheAgentKey", kms_key_arn, ["kms:Decrypt", "kms:GenerateDataKey"])
        )
    return {"Version": "2012-10-17", "Statement": statements}
