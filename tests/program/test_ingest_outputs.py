"""The stack outputs `python -m client ingest` reads: the program exports the ids of the knowledge base
and data source it creates, and a stack without a knowledge base exports neither (the client then names
the knowledgeBaseEnabled setting)."""

from __future__ import annotations

import argparse

import pytest

from client.cli import Dependencies
from client.ingest import ID_PATTERN, IngestError, Target, find_target
from tests.program.conftest import RunProgram

KB = "aws:bedrock/agentKnowledgeBase:AgentKnowledgeBase"
DATA_SOURCE = "aws:bedrock/agentDataSource:AgentDataSource"


def ingest_args(stack: str) -> argparse.Namespace:
    return argparse.Namespace(
        stack=stack, knowledge_base_id=None, data_source_id=None, region=None, job_id=None
    )


def test_dev_exports_the_ids_the_ingest_command_starts_a_job_for(program: RunProgram) -> None:
    dev = program("dev")
    kb, source = dev.one(KB), dev.one(DATA_SOURCE)

    target = find_target(ingest_args("dev"), Dependencies(stack_outputs=lambda stack: dev.outputs))

    assert target == Target(kb.outputs["id"], source.outputs["dataSourceId"], "us-east-1", "dev")
    assert source.inputs["knowledgeBaseId"] == kb.outputs["id"]  # the data source is that base's
    assert ID_PATTERN.fullmatch(target.knowledge_base_id)
    assert ID_PATTERN.fullmatch(target.data_source_id)


def test_a_stack_without_a_knowledge_base_exports_no_ids(program: RunProgram) -> None:
    prod = program("prod")
    assert not prod.of_type(KB)
    assert "knowledgeBaseId" not in prod.outputs
    assert "knowledgeBaseDataSourceId" not in prod.outputs

    with pytest.raises(IngestError) as error:
        find_target(ingest_args("prod"), Dependencies(stack_outputs=lambda stack: prod.outputs))
    assert "knowledgeBaseEnabled" in str(error.value)
    assert error.value.code == 2
