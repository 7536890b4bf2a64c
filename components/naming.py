"""Physical names that must be known before the resources exist.

Lambda writes to `/aws/lambda/<function name>`, and the logs KMS key's policy must name this stack's
log groups before any of them is created, so function and log group names are derived here, in one
place, from `<project>-<stack>`, rather than auto-named.
"""

from __future__ import annotations

from dataclasses import dataclass

from components.context import AwsContext

MAX_FUNCTION_NAME_LENGTH = 64


@dataclass(frozen=True)
class Naming:
    prefix: str  # "<project>-<stack>"

    def function_name(self, role: str) -> str:
        name = f"{self.prefix}-{role}"
        if len(name) > MAX_FUNCTION_NAME_LENGTH:
            raise ValueError(
                f"Lambda function name '{name}' is longer than {MAX_FUNCTION_NAME_LENGTH} characters; "
                "use a shorter stack name."
            )
        return name

    def lambda_log_group(self, role: str) -> str:
        return f"/aws/lambda/{self.function_name(role)}"

    def stack_log_group(self, role: str) -> str:
        """A log group owned by the stack itself (flow logs, API access logs)."""
        return f"/{self.prefix}/{role}"

    def log_group_arn_patterns(self, context: AwsContext) -> list[str]:
        """ARN patterns that match every log group this naming scheme produces, and nothing else
        this project names (another stack whose name extends this one's, e.g. dev and dev-eu, would
        match the Lambda pattern: keep stack names distinct in one account)."""
        return [
            context.arn("logs", f"log-group:/{self.prefix}/*"),
            context.arn("logs", f"log-group:/aws/lambda/{self.prefix}-*"),
        ]
