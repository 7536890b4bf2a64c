"""Client for the CrossGuard pack's Analyzer gRPC service, driven the way the Pulumi engine drives it.

The engine starts a Python policy pack with `python -u -m pulumi.policy <engine-address> <pack dir>`
(cwd = pack dir), reads the port the pack prints on stdout, then calls GetAnalyzerInfo, Configure
(every policy, with its effective enforcement level and the schema defaults merged with the
user's `--policy-pack-config`), Analyze once per resource (its checked *inputs*) and AnalyzeStack
once with every resource (their *outputs*, parent, dependencies, property dependencies). This class
does exactly that against the real pack, so a report here is the report `pulumi preview` would give.

Usage:
    with PolicyAnalyzer() as analyzer:
        name, version, policies = analyzer.info()
        report = analyzer.analyze(snapshots)
"""

from __future__ import annotations

import os
import queue
import subprocess
import sys
import threading
import weakref
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import IO, Any, Final

import grpc
import pulumi
import yaml
from google.protobuf import empty_pb2, json_format, struct_pb2
from pulumi.runtime.proto import analyzer_pb2, analyzer_pb2_grpc

from offline.model import PolicyInfo, PolicyReport, PolicyViolation, ProviderSnapshot, ResourceSnapshot

DEFAULT_PACK_DIR: Final = Path(__file__).resolve().parent.parent / "policies"

# Wire encodings shared with the engine (pulumi/sdk/go/common/resource/plugin/rpc.go).
UNKNOWN: Final = "04da6b54-80e4-46f7-96ec-b56ff0331ba9"  # a value unknown during preview
_SIG_KEY: Final = "4dabf18193072939515e22adb298388d"
_SECRET_SIG: Final = "1b47061264138c4ac30d75fd1eb44270"  # noqa: S105 -- a wire marker, not a secret
_ASSET_SIG: Final = "c44067f5952c0a294b673a41bacd8c17"
_ARCHIVE_SIG: Final = "0def7320c3a5731c473e5ecbe6d01bc7"

# Set by the engine for each plugin run; pulumi_policy reads PROJECT/STACK/DRY_RUN to configure
# pulumi.runtime, so rules may call pulumi.get_stack(). Pass them through `env` when that matters.
_ENGINE_VARS: Final = frozenset(
    {
        "PULUMI_CONFIG",
        "PULUMI_CONFIG_SECRET_KEYS",
        "PULUMI_PROJECT",
        "PULUMI_STACK",
        "PULUMI_ORGANIZATION",
        "PULUMI_DRY_RUN",
    }
)
# pulumi.policy's launcher ignores the engine address unless the pack calls back into the engine.
_NO_ENGINE: Final = "127.0.0.1:0"
_MAX_MESSAGE: Final = 400 * 1024 * 1024  # the same limit pulumi_policy's server sets
_LEVELS: Final = {
    analyzer_pb2.ADVISORY: "advisory",
    analyzer_pb2.MANDATORY: "mandatory",
    analyzer_pb2.DISABLED: "disabled",
    analyzer_pb2.REMEDIATE: "remediate",
}
_LEVEL_CODES: Final = {name: code for code, name in _LEVELS.items()}
_POLICY_TYPES: Final = {analyzer_pb2.POLICY_TYPE_STACK: "stack"}


class PolicyPackError(RuntimeError):
    """The pack failed to start, died, or an RPC failed. Carries the pack's stderr."""

    def __init__(
        self, message: str, *, stderr: str = "", returncode: int | None = None, pid: int = 0
    ) -> None:
        detail = f"\n--- policy pack stderr ---\n{stderr.rstrip()}" if stderr.strip() else ""
        super().__init__(message + detail)
        self.stderr = stderr
        self.returncode = returncode
        self.pid = pid


class PolicyConfigError(ValueError):
    """Policy config that the engine would reject (unknown policy, property or wrong type)."""


@dataclass(frozen=True)
class Secret:
    """Wrap an input value to send it the way the engine sends a secret."""

    value: Any


class PolicyAnalyzer:
    """Runs the policy pack in a subprocess and talks to it over gRPC. Reusable across analyze calls;
    close it (or use it as a context manager) to stop the subprocess.

    `config` is a `--policy-pack-config` document; `env` adds variables for the pack process (e.g.
    PULUMI_PROJECT/PULUMI_STACK/PULUMI_DRY_RUN as the engine sets them)."""

    def __init__(
        self,
        pack_dir: Path = DEFAULT_PACK_DIR,
        config: Mapping[str, Any] | None = None,
        *,
        python: str = sys.executable,
        startup_timeout: float = 30.0,
        rpc_timeout: float = 120.0,
        env: Mapping[str, str] | None = None,
    ) -> None:
        self._pack_dir = Path(pack_dir).resolve()
        self._initial_config = dict(config or {})
        self._python = python
        self._startup_timeout = startup_timeout
        self._rpc_timeout = rpc_timeout
        self._extra_env = dict(env or {})
        self._proc: subprocess.Popen[bytes] | None = None
        self._channel: grpc.Channel | None = None
        self._stub: analyzer_pb2_grpc.AnalyzerStub | None = None
        self._stderr: deque[str] = deque(maxlen=400)
        self._threads: list[threading.Thread] = []
        self._finalizer: weakref.finalize[Any, Any] | None = None
        self._info: tuple[str, str, tuple[PolicyInfo, ...]] | None = None

    # --- lifecycle -------------------------------------------------------------------------------

    def __enter__(self) -> PolicyAnalyzer:
        self.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def start(self) -> None:
        if self._proc is not None:
            return
        try:
            port = self._spawn()
            self._channel = grpc.insecure_channel(
                f"127.0.0.1:{port}",
                options=[
                    ("grpc.max_receive_message_length", _MAX_MESSAGE),
                    ("grpc.max_send_message_length", _MAX_MESSAGE),
                ],
            )
            grpc.channel_ready_future(self._channel).result(timeout=self._startup_timeout)
            self._stub = analyzer_pb2_grpc.AnalyzerStub(self._channel)
            self._info = self._fetch_info()
            self.configure(self._initial_config)
        except BaseException:
            self.close()
            raise

    def close(self) -> None:
        """Stop the pack: terminate, wait, kill on timeout. Idempotent; never leaves a zombie."""
        if self._channel is not None:
            self._channel.close()
        self._channel, self._stub = None, None
        if self._finalizer is not None:
            self._finalizer()  # runs _stop once and detaches
            self._finalizer = None
        for thread in self._threads:
            thread.join(timeout=2)
        self._threads = []
        self._proc = None

    def _spawn(self) -> int:
        if not (self._pack_dir / "__main__.py").is_file():
            raise PolicyPackError(f"no policy pack at {self._pack_dir} (missing __main__.py)")
        # Variables the engine sets per run are not inherited from whatever started us (e.g. a parent
        # `pulumi` program); callers pass their own through `env`.
        env = {k: v for k, v in os.environ.items() if k not in _ENGINE_VARS}
        env.update(self._extra_env)
        self._proc = subprocess.Popen(  # noqa: S603 -- fixed argv: this interpreter and the pack dir
            [self._python, "-u", "-m", "pulumi.policy", _NO_ENGINE, str(self._pack_dir)],
            cwd=self._pack_dir,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        self._finalizer = weakref.finalize(self, _stop, self._proc)
        first_line: queue.Queue[str | None] = queue.Queue()
        assert self._proc.stdout is not None
        assert self._proc.stderr is not None
        stderr = self._stderr  # the pump threads must not keep `self` alive (the finalizer needs it to die)
        self._pump(self._proc.stderr, lambda line: None if line is None else stderr.append(line))
        self._pump(self._proc.stdout, _first_line_to(first_line, self._stderr))
        try:
            line = first_line.get(timeout=self._startup_timeout)
        except queue.Empty:
            raise self._error(
                f"policy pack did not report a port within {self._startup_timeout:g}s"
            ) from None
        if line is None or not line.strip().isdigit():
            self._wait_exit()
            why = (
                "it exited before reporting its gRPC port"
                if line is None
                else f"it printed {line!r}, not a port"
            )
            raise self._error(f"policy pack at {self._pack_dir} failed to start: {why}")
        return int(line)

    def _pump(self, stream: IO[bytes], sink: Callable[[str | None], None]) -> None:
        # Drain a pipe continuously: a pack that prints a lot must not block on a full pipe buffer.
        thread = threading.Thread(target=_drain, args=(stream, sink), name="policy-pack-pipe", daemon=True)
        thread.start()
        self._threads.append(thread)

    def _wait_exit(self) -> None:
        if self._proc is not None:
            try:
                self._proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                return
            for thread in self._threads:
                thread.join(timeout=2)

    def _error(self, message: str) -> PolicyPackError:
        proc = self._proc
        code = proc.poll() if proc is not None else None
        if code is not None:
            message += f" (exit code {code})"
        return PolicyPackError(
            message, stderr="\n".join(self._stderr), returncode=code, pid=proc.pid if proc else 0
        )

    def _call(self, method: str, request: Any) -> Any:
        if self._stub is None:
            raise PolicyPackError("the policy analyzer is not running (call start() or use `with`)")
        try:
            return getattr(self._stub, method)(request, timeout=self._rpc_timeout)
        except grpc.RpcError as err:
            raise self._error(f"{method} failed: {_rpc_detail(err)}") from err

    # --- info & config ---------------------------------------------------------------------------

    def _fetch_info(self) -> tuple[str, str, tuple[PolicyInfo, ...]]:
        info = self._call("GetAnalyzerInfo", empty_pb2.Empty())
        policies = tuple(
            PolicyInfo(
                name=p.name,
                description=p.description,
                enforcement_level=_LEVELS[p.enforcementLevel],
                remediation_steps=p.remediation_steps,
                config_schema=json_format.MessageToDict(p.configSchema.properties),
                policy_type=_POLICY_TYPES.get(p.policy_type, "resource"),
            )
            for p in info.policies
        )
        # Python packs always report 0.0.1; the CLI takes the version from PulumiPolicy.yaml.
        return info.name, _yaml_version(self._pack_dir) or info.version, policies

    def info(self) -> tuple[str, str, tuple[PolicyInfo, ...]]:
        """(pack name, pack version, policies) as GetAnalyzerInfo reports them."""
        if self._info is None:
            raise PolicyPackError("the policy analyzer is not running (call start() or use `with`)")
        return self._info

    def configure(self, config: Mapping[str, Any] | None = None) -> None:
        """Send the full policy config, like the engine: every policy gets its effective enforcement
        level (a missing level would read as ADVISORY on the wire) and its schema defaults, overlaid
        with `config` (`--policy-pack-config` format: {"name": "level" | {"enforcementLevel": ..., ...}},
        plus "all": "<level>")."""
        _, _, policies = self.info()
        request = analyzer_pb2.ConfigureAnalyzerRequest()
        for name, (level, properties) in reconcile_config(policies, config or {}).items():
            entry = request.policyConfig[name]
            entry.enforcementLevel = _LEVEL_CODES[level]
            entry.properties.update(properties)
        self._call("Configure", request)

    # --- analysis --------------------------------------------------------------------------------

    def analyze(self, resources: Sequence[ResourceSnapshot]) -> PolicyReport:
        """Analyze every resource and the stack; violations deduplicated and sorted."""
        name, version, policies = self.info()
        if self._stub is None:
            raise PolicyPackError("the policy analyzer is not running")
        pending = [
            (r.urn, self._stub.Analyze.future(_analyze_request(r), timeout=self._rpc_timeout))
            for r in resources
        ]
        stack_request = analyzer_pb2.AnalyzeStackRequest(resources=[_stack_resource(r) for r in resources])
        pending.append(("", self._stub.AnalyzeStack.future(stack_request, timeout=self._rpc_timeout)))
        violations: set[PolicyViolation] = set()
        for urn, future in pending:
            try:
                response = future.result()
            except grpc.RpcError as err:
                what = f"Analyze({urn})" if urn else "AnalyzeStack"
                raise self._error(f"{what} failed: {_rpc_detail(err)}") from err
            violations.update(_violation(d, urn) for d in response.diagnostics)
        ordered = tuple(sorted(violations, key=lambda v: (v.urn, v.policy_name, v.message)))
        return PolicyReport(pack_name=name, pack_version=version, policies=policies, violations=ordered)


def _drain(stream: IO[bytes], sink: Callable[[str | None], None]) -> None:
    for raw in iter(stream.readline, b""):
        sink(raw.decode("utf-8", "replace").rstrip("\n"))
    sink(None)  # end of stream
    stream.close()


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _first_line_to(target: queue.Queue[str | None], rest: deque[str]) -> Callable[[str | None], None]:
    """A pump sink that hands the first stdout line (the port) to `target` and keeps the rest."""
    delivered = False

    def sink(line: str | None) -> None:
        nonlocal delivered
        if not delivered:
            delivered = True
            target.put(line)
        elif line is not None:
            rest.append(f"[stdout] {line}")

    return sink


def _rpc_detail(err: grpc.RpcError) -> str:
    code = err.code() if hasattr(err, "code") else None
    details = err.details() if hasattr(err, "details") else str(err)
    return f"{getattr(code, 'name', code)}: {details}"


def _yaml_version(pack_dir: Path) -> str | None:
    path = pack_dir / "PulumiPolicy.yaml"
    if not path.is_file():
        return None
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    version = data.get("version") if isinstance(data, dict) else None
    return str(version) if version is not None else None


# --- config reconciliation (mirrors the engine's ReconcilePolicyPackConfig + schema validation) ---

_JSON_TYPES: Final[dict[str, tuple[type, ...]]] = {
    "string": (str,),
    "integer": (int,),
    "number": (int, float),
    "boolean": (bool,),
    "array": (list, tuple),
    "object": (dict,),
}


def reconcile_config(
    policies: Sequence[PolicyInfo], config: Mapping[str, Any]
) -> dict[str, tuple[str, dict[str, Any]]]:
    """Effective (enforcement level, properties) per policy for `config`; raises PolicyConfigError."""
    known = {p.name: p for p in policies}
    result = {
        p.name: (p.enforcement_level, {k: v["default"] for k, v in p.config_schema.items() if "default" in v})
        for p in policies
    }
    if "all" in config:
        level = _level(config["all"], "all")
        result = {name: (level, props) for name, (_, props) in result.items()}
    for name, value in config.items():
        if name == "all":
            continue
        if name not in known:
            raise PolicyConfigError(f"unknown policy {name!r} in policy config")
        level, props = result[name]
        if isinstance(value, str):
            result[name] = (_level(value, name), props)
            continue
        if not isinstance(value, Mapping):
            raise PolicyConfigError(f"config for {name!r} must be a level string or an object")
        overrides = {k: v for k, v in value.items() if k != "enforcementLevel"}
        _validate(name, known[name].config_schema, overrides)
        if "enforcementLevel" in value:
            level = _level(value["enforcementLevel"], name)
        result[name] = (level, {**props, **overrides})
    return result


def _level(value: Any, name: str) -> str:
    if value not in _LEVEL_CODES:
        raise PolicyConfigError(
            f"invalid enforcement level {value!r} for {name!r}; use one of {sorted(_LEVEL_CODES)}"
        )
    return str(value)


def _validate(name: str, schema: Mapping[str, Any], props: Mapping[str, Any]) -> None:
    """The subset of JSON schema the pack's configs use: type, items.type, minimum/maximum, minItems."""
    for key, value in props.items():
        spec = schema.get(key)
        if spec is None:
            raise PolicyConfigError(f"{name!r} has no config property {key!r} (known: {sorted(schema)})")
        _check_value(f"{name}.{key}", spec, value)


def _check_value(where: str, spec: Mapping[str, Any], value: Any) -> None:
    kind = spec.get("type")
    allowed = _JSON_TYPES.get(str(kind), (object,))
    if not isinstance(value, allowed) or (kind in ("integer", "number") and isinstance(value, bool)):
        raise PolicyConfigError(f"{where} must be of type {kind}, got {value!r}")
    if "minimum" in spec and value < spec["minimum"]:
        raise PolicyConfigError(f"{where} must be >= {spec['minimum']}, got {value!r}")
    if "maximum" in spec and value > spec["maximum"]:
        raise PolicyConfigError(f"{where} must be <= {spec['maximum']}, got {value!r}")
    if isinstance(value, (list, tuple)):
        if len(value) < spec.get("minItems", 0):
            raise PolicyConfigError(f"{where} needs at least {spec['minItems']} items")
        for i, item in enumerate(value):
            _check_value(f"{where}[{i}]", spec.get("items", {}), item)


# --- wire encoding --------------------------------------------------------------------------------


def _wire(value: Any) -> Any:
    """A property value as the engine marshals it into a protobuf Struct."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, Secret):
        return {_SIG_KEY: _SECRET_SIG, "value": _wire(value.value)}
    if isinstance(value, Mapping):
        return {str(k): _wire(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_wire(v) for v in value]
    if isinstance(value, pulumi.Asset):
        return {_SIG_KEY: _ASSET_SIG, **_asset_fields(value)}
    if isinstance(value, pulumi.Archive):
        if isinstance(value, pulumi.AssetArchive):
            return {_SIG_KEY: _ARCHIVE_SIG, "assets": {k: _wire(v) for k, v in value.assets.items()}}
        return {_SIG_KEY: _ARCHIVE_SIG, **_asset_fields(value)}
    raise TypeError(f"cannot send a {type(value).__name__} to the policy pack")


def _asset_fields(value: pulumi.Asset | pulumi.Archive) -> dict[str, str]:
    for attr in ("path", "text", "uri"):
        if isinstance(getattr(value, attr, None), str):
            return {attr: getattr(value, attr)}
    raise TypeError(f"cannot send a {type(value).__name__} to the policy pack")


def _struct(props: Mapping[str, Any]) -> struct_pb2.Struct:
    out = struct_pb2.Struct()
    out.update(_wire(props))
    return out


def _provider(provider: ProviderSnapshot | None) -> analyzer_pb2.AnalyzerProviderResource | None:
    if provider is None:
        return None
    return analyzer_pb2.AnalyzerProviderResource(
        type=provider.type, urn=provider.urn, name=provider.name, properties=_struct(provider.properties)
    )


def _options(r: ResourceSnapshot) -> analyzer_pb2.AnalyzerResourceOptions:
    return analyzer_pb2.AnalyzerResourceOptions(
        protect=r.protect, aliases=list(r.aliases), parent=r.parent or ""
    )


def _analyze_request(r: ResourceSnapshot) -> analyzer_pb2.AnalyzeRequest:
    return analyzer_pb2.AnalyzeRequest(
        type=r.type,
        urn=r.urn,
        name=r.name,
        properties=_struct(r.inputs),
        options=_options(r),
        provider=_provider(r.provider),
    )


def _stack_resource(r: ResourceSnapshot) -> analyzer_pb2.AnalyzerResource:
    # The engine sends outputs here; for a bridged AWS resource the outputs include every input, and a
    # snapshot without outputs (a preview of a create) is best represented by its inputs.
    return analyzer_pb2.AnalyzerResource(
        type=r.type,
        urn=r.urn,
        name=r.name,
        properties=_struct({**r.inputs, **r.outputs}),
        options=_options(r),
        provider=_provider(r.provider),
        parent=r.parent or "",
        dependencies=list(r.dependencies),
        propertyDependencies={
            k: analyzer_pb2.AnalyzerPropertyDependencies(urns=list(v))
            for k, v in r.property_dependencies.items()
        },
    )


def _violation(d: analyzer_pb2.AnalyzeDiagnostic, fallback_urn: str) -> PolicyViolation:
    # pulumi_policy prefixes the message with the description; keep only the specific finding.
    message = d.message
    if message.startswith(d.description):
        message = message[len(d.description) :].lstrip("\n") or message
    return PolicyViolation(
        policy_name=d.policyName,
        description=d.description,
        message=message,
        enforcement_level=_LEVELS.get(d.enforcementLevel, "advisory"),
        urn=d.urn or fallback_urn,
    )
