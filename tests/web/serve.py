"""`make web`: the chat page on this machine, against the real invoker and a scripted fake agent.

    python -m tests.web.serve [--screenshot docs/web-chat.png]

No AWS account: sign-in goes through a fake Cognito that signs anyone in, the API is the loopback
stand-in for API Gateway (SigV4 checked), and the agent answers from a small script:

- a question with "time" or "today" in it asks the page for the local time (return of control);
- "refund", "delete" or "confirm" makes the agent ask for a confirmation (a dialog on the page);
- "fail" makes the agent fail (the page shows the API's error envelope);
- anything else is echoed with a hint of what to try.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from typing import Any
from urllib.parse import unquote, urlsplit

import pytest
from botocore.awsrequest import AWSPreparedRequest, AWSResponse

from functions.invoker import handler as handler_module
from tests.functions import eventstream as es
from tests.functions.invoker_fakes import UPSTREAM_REQUEST_ID, ScriptedRaw
from tests.web.local import LocalWeb

HINT = (
    "This is the local demo agent. Try: “What time is it for me?”, “Refund order o-123”, or “fail” "
    "to see an error."
)


def demo_reply(body: dict[str, Any]) -> list[bytes]:
    """The event stream the demo agent answers one InvokeAgent request with."""
    results = (body.get("sessionState") or {}).get("returnControlInvocationResults")
    if results:
        texts = [
            r.get("functionResult", {}).get("responseBody", {}).get("TEXT", {}).get("body", "")
            for r in results
        ]
        answers = [json.loads(t) for t in texts if t.startswith("{")]
        if any(a.get("answer") == "yes" for a in answers):
            return [es.chunk("Done: the refund of 42.50 EUR for order o-123 is on its way.")]
        if any(a.get("answer") == "no" for a in answers):
            return [es.chunk("Understood, nothing was sent.")]
        now = next((a for a in answers if "time" in a), None)
        if now is not None:
            return [
                es.chunk(f"It is {now['time']} on {now['weekday']} ({now['timeZone'] or now['utcOffset']}).")
            ]
        return [es.chunk("Thanks, noted.")]
    text = str(body.get("inputText", "")).lower()
    if "time" in text or "today" in text:
        return [es.return_control("demo-time", [_input("get_local_time", [])])]
    if any(word in text for word in ("refund", "delete", "confirm")):
        question = [
            {
                "name": "question",
                "type": "string",
                "value": "Send the refund of 42.50 EUR for order o-123 now?",
            }
        ]
        return [es.return_control("demo-confirm", [_input("confirm_with_user", question)])]
    return [es.chunk(HINT)]


def _input(function: str, parameters: list[dict[str, str]]) -> dict[str, Any]:
    return {
        "functionInvocationInput": {
            "actionGroup": "client_tools",
            "function": function,
            "actionInvocationType": "RESULT",
            "parameters": parameters,
        }
    }


def respond(request: AWSPreparedRequest) -> AWSResponse:
    body = json.loads(request.body or b"{}")
    session = unquote(urlsplit(request.url).path).split("/")[6]
    if "fail" in str(body.get("inputText", "")).lower():
        headers = {"x-amzn-requestid": UPSTREAM_REQUEST_ID, "x-amzn-errortype": "ConflictException:"}
        return AWSResponse(request.url, 409, headers, ScriptedRaw([b'{"message": "demo failure"}']))
    headers = {
        "x-amzn-requestid": UPSTREAM_REQUEST_ID,
        "content-type": "application/vnd.amazon.eventstream",
        "x-amzn-bedrock-agent-content-type": "application/json",
        "x-amz-bedrock-agent-session-id": session,
    }
    return AWSResponse(request.url, 200, headers, ScriptedRaw(demo_reply(body)))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="make web", description=__doc__.splitlines()[0])
    parser.add_argument("--screenshot", help="save a screenshot of a short demo conversation and exit")
    args = parser.parse_args(argv)
    monkeypatch = pytest.MonkeyPatch()
    world = LocalWeb.start(monkeypatch)
    world.harness.agent.fallback = respond
    handler_module.logger.setLevel("WARNING")  # the request summaries would flood the terminal
    try:
        if args.screenshot:
            from tests.web.screenshot import demo_screenshot

            demo_screenshot(world, args.screenshot)
            return 0
        print(
            f"Chat page: {world.url}  (fake sign-in, scripted agent, real invoker; Ctrl-C stops)", flush=True
        )
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        return 0
    finally:
        world.stop()
        monkeypatch.undo()


if __name__ == "__main__":
    sys.exit(main())
