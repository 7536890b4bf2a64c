"""Lifecycle: in a production stack, nothing that holds data can be deleted by a routine `pulumi up`."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Final

from .framework import Config, Resource, RuleSet, Setting, as_list
from .tags import merged_tags

rules = RuleSet()

# Resources whose deletion loses data (logs, keys and everything encrypted with them, objects, users).
STATEFUL_TYPES: Final = (
    "aws:cloudwatch/logGroup:LogGroup",
    "aws:kms/key:Key",
    "aws:s3/bucket:Bucket",
    "aws:s3/bucketV2:BucketV2",
    "aws:dynamodb/table:Table",
    "aws:secretsmanager/secret:Secret",
    "aws:cognito/userPool:UserPool",
    "aws:sns/topic:Topic",
    "aws:efs/fileSystem:FileSystem",
    "aws:rds/instance:Instance",
    "aws:rds/cluster:Cluster",
    "aws:opensearch/domain:Domain",
    "aws:opensearch/serverlessCollection:ServerlessCollection",
)
ENVIRONMENT_TAG = Setting(
    "environmentTagKey",
    {"type": "string", "minLength": 1},
    "Environment",
    "Tag (from the stack's aws:defaultTags config, or the resource's tags) that names the environment.",
)
PRODUCTION = Setting(
    "productionEnvironments",
    {"type": "array", "items": {"type": "string"}, "minItems": 1},
    ["prod", "production"],
    "Values of that tag (case-insensitive) that make a stack a production stack.",
)


@rules.resource(
    "stateful-resources-protected",
    types=STATEFUL_TYPES,
    settings=[ENVIRONMENT_TAG, PRODUCTION],
    description=(
        "In a production stack every stateful resource (log groups, KMS keys, buckets, tables, user pools, "
        "...) must carry the `protect` resource option, so that a replacement or `pulumi destroy` cannot "
        "delete its data without an explicit unprotect. A stack is production when its environment tag - "
        "set in stack config by aws:defaultTags (e.g. Environment: prod) - is a production value."
    ),
    remediation=(
        "Pass opts=ResourceOptions(protect=True) (this program: set protectStatefulResources: true in the "
        "stack config); or, if the stack is not production, fix its Environment tag."
    ),
)
def stateful_resources_protected(res: Resource, config: Config) -> Iterator[str]:
    tags = merged_tags(res)
    if tags is None:
        return  # tags unknown during preview: judged again at `pulumi up`
    key = str(config["environmentTagKey"])
    environment = tags.get(key) if isinstance(tags, Mapping) else None
    production = {str(value).lower() for value in as_list(config["productionEnvironments"])}
    if isinstance(environment, str) and environment.lower() in production and not res.protect:
        yield f"{res.label} is not protected in a production stack ({key}={environment})"
