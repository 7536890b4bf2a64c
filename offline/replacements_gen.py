"""Generate offline/replacements.json: which input changes force each AWS resource type to be replaced.

Where the facts come from
-------------------------
pulumi-aws is a bridged provider: every `aws:*` resource is a Terraform AWS provider resource, and
the bridge replaces a resource exactly when the Terraform provider says so for a changed attribute:
`ForceNew: true` in a plugin-SDKv2 schema, a `RequiresReplace*()` plan modifier in a
plugin-framework schema. Neither the Pulumi schema nor the Python SDK carries that flag (the SDK's
docstrings copy the Terraform docs, which name only a few), so it is read from the provider source:

- `--index GIT_DIR`: a git directory of `lonegunmanb/terraform-provider-aws-index` (brought here with
  the search tool's `fetch github:lonegunmanb/terraform-provider-aws-index`; its commits are named
  "Update index files for terraform-provider-aws vX.Y.Z"). It holds, verbatim, every function and
  method of hashicorp/terraform-provider-aws's `internal/` tree as one `*.goindex` file each, and an
  `index/resources/<aws_type>.json` per resource naming the file of its schema function.
  (The full provider repository is larger than `fetch` brings.)
- the installed `pulumi_aws` Python package: each resource class names its type token and its input
  properties (`__props__.__dict__["name"] = name` in `_internal_init`); a Terraform attribute maps to
  the Pulumi input of the same name (the bridge's camelCase), or to the one the provider renames it to
  (`rest_api_id` -> `restApi`, `function_name` -> `name`, see `_pulumi_name`).
- the Terraform type of a Pulumi token: `aws_<module>_<name>` with the provider's module prefixes
  (`_TF_PREFIXES`, e.g. `bedrock` -> `bedrockagent`, `apigateway` -> `api_gateway`) and a few
  explicit names (`_EXPLICIT_TF_TYPES`).

Other bridged providers the program uses come from their own Terraform provider's source: the
pulumiverse `time` provider (`time:index/sleep:Sleep`, the IAM propagation wait) from a git dir of
hashicorp/terraform-provider-time (`--time-repo`, `fetch github:hashicorp/terraform-provider-time`;
`--time-rev` the tag, default the newest v0.* tag), reading each resource's `Schema` method in
`internal/provider/resource_time_<name>.go` and the tokens and inputs of the installed `pulumiverse_time`.

Delete-before-replace: the bridge's `Diff` asks for delete-before-replace when a replaced resource's
auto-named property (`name`) was set explicitly (pulumi-terraform-bridge `nameRequiresDeleteBeforeReplace`:
"the inputs include an autonameable property with a value that was not populated by the autonamer"),
because the new resource could not take the name the old one still holds. `autoname` records that
property for each type that has one.

Run: `python -m offline.replacements_gen --index /work/.mirror/lonegunmanb+terraform-provider-aws-index/repo`
(`--rev` picks the provider version's commit; default HEAD). The output is committed; a test fails
when the program uses a type the table lacks, so regenerate (or add the type) when adding one.
"""

from __future__ import annotations

import argparse
import importlib
import json
import re
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pulumi_aws

OUTPUT = Path(__file__).resolve().parent / "replacements.json"

# Pulumi module -> the Terraform type prefixes its resources come from (after "aws_").
_TF_PREFIXES: dict[str, tuple[str, ...]] = {
    "apigateway": ("api_gateway",),
    "bedrock": ("bedrockagent", "bedrock"),
    "cloudwatch": ("cloudwatch", "cloudwatch_event", "cloudwatch_log"),
    "ec2": ("", "ec2", "vpc"),
    "vpc": ("vpc", ""),
    "lambda": ("lambda",),
    "cognito": ("cognito",),
    "s3": ("s3", "s3_bucket"),
    "cloudfront": ("cloudfront",),
    "sns": ("sns",),
    "kms": ("kms",),
    "iam": ("iam",),
}
# Tokens whose Terraform type does not follow from the module and the name.
_EXPLICIT_TF_TYPES: dict[str, str] = {
    "aws:apigateway/response:Response": "aws_api_gateway_gateway_response",
    "aws:apigateway/account:Account": "aws_api_gateway_account",
    "aws:ec2/vpc:Vpc": "aws_vpc",
    "aws:s3/bucket:Bucket": "aws_s3_bucket",
    # S3 Vectors: a Pulumi module of s3, a Terraform package (s3vectors) of its own.
    "aws:s3/vectorsIndex:VectorsIndex": "aws_s3vectors_index",
    "aws:s3/vectorsVectorBucket:VectorsVectorBucket": "aws_s3vectors_vector_bucket",
    "aws:s3/vectorsVectorBucketPolicy:VectorsVectorBucketPolicy": "aws_s3vectors_vector_bucket_policy",
    "aws:s3/bucketObjectv2:BucketObjectv2": "aws_s3_object",
    "aws:cognito/identityPoolRoleAttachment:IdentityPoolRoleAttachment": (
        "aws_cognito_identity_pool_roles_attachment"
    ),
}
_TOKEN = re.compile(r"super\((\w+), __self__\)\.__init__\(\s*'([a-z]+:[\w/]+:\w+)'")
_INPUT = re.compile(r'__props__\.__dict__\["(\w+)"\] = (\w+)$', re.MULTILINE)
_MAP_START = re.compile(r"map\[string\]\*?schema\.(?:Schema|Attribute|Block)\s*\{")
_KEY = re.compile(
    r'^\s*(?:"(?P<literal>[a-z0-9_]+)"|names\.Attr(?P<const>\w+)|(?P<local>[a-z]\w*))\s*:\s*', re.DOTALL
)
_REPLACES = re.compile(r"\b(?:ForceNew:\s*true|\w*planmodifier\.RequiresReplace(?:IfConfigured)?\(\))")
_REPLACES_IF = re.compile(r"\b\w*planmodifier\.RequiresReplaceIf\w*\(")
_FORCE_NEW_IF = re.compile(r'customdiff\.ForceNewIf\w*\(\s*(?:"([a-z0-9_.]+)"|names\.Attr(\w+))')
_REGISTRATION = re.compile(r'Factory:\s*(\w+),\s*TypeName:\s*"(aws_\w+)"')
_STRUCT = re.compile(r"&(\w+)\{")
_HELPER_CALL = re.compile(r"^\s*(\w+)\(\)\s*$")
_ACRONYMS = re.compile(r"([A-Z]+)([A-Z][a-z])|([a-z0-9])([A-Z])")


@dataclass
class TypeEntry:
    terraform_type: str
    replace: list[str] = field(default_factory=list)  # Pulumi property paths, dotted for nested
    conditional: list[str] = field(default_factory=list)  # replace only under a provider condition
    autoname: str | None = None
    unmapped: list[str] = field(default_factory=list)  # Terraform attributes with no Pulumi input


# Acronyms the provider's `names.Attr*` constants spell in capitals (names/attr_consts.csv).
_CONST_ACRONYMS = sorted(
    [
        "ACL",
        "ACM",
        "API",
        "ARN",
        "ASN",
        "AZ",
        "CIDR",
        "DB",
        "DNS",
        "EC2",
        "ENI",
        "HTTP",
        "HTTPS",
        "IAM",
        "ID",
        "IOPS",
        "IP",
        "IPv4",
        "IPv6",
        "JSON",
        "KMS",
        "MFA",
        "OIDC",
        "RDS",
        "S3",
        "SAML",
        "SNS",
        "SQS",
        "SSE",
        "SSH",
        "SSL",
        "SSM",
        "TLS",
        "TTL",
        "URI",
        "URL",
        "VPC",
    ],
    key=len,
    reverse=True,
)


def const_to_attr(const: str) -> str:
    """`names.AttrCIDRBlock` -> `cidr_block`, `AttrSecurityGroupIDs` -> `security_group_ids`."""
    words: list[str] = []
    index = 0
    while index < len(const):
        for acronym in _CONST_ACRONYMS:
            end = index + len(acronym)
            if const.startswith(acronym, index) and (end == len(const) or not const[end].islower()):
                words.append(acronym.lower())
                index = end
                break
            if const.startswith(acronym + "s", index) and (
                end + 1 == len(const) or not const[end + 1].islower()
            ):
                words.append(acronym.lower() + "s")
                index = end + 1
                break
        else:
            match = re.match(r"[A-Z]?[a-z0-9]+|[A-Z]+", const[index:])
            assert match is not None, const
            words.append(match[0].lower())
            index += len(match[0])
    return "_".join(words)


def camel(snake: str) -> str:
    head, *rest = snake.rstrip("_").split("_")
    return head + "".join(part[:1].upper() + part[1:] for part in rest)


# --------------------------------------------------------------------------------------------------
# A small reader of Go composite literals: enough to walk schema maps


def _skip_literal(text: str, index: int) -> int:
    quote = text[index]
    if quote == "`":
        return text.index("`", index + 1) + 1
    index += 1
    while text[index] != quote:
        index += 2 if text[index] == "\\" else 1
    return index + 1


def _matching(text: str, open_index: int) -> int:
    """Index just past the bracket that closes the one at `open_index` (skipping strings and comments)."""
    depth, index = 0, open_index
    while index < len(text):
        char = text[index]
        if char in "\"'`":
            index = _skip_literal(text, index)
            continue
        if text.startswith("//", index):
            index = text.index("\n", index)
            continue
        if char in "{([":
            depth += 1
        elif char in "})]":
            depth -= 1
            if depth == 0:
                return index + 1
        index += 1
    raise ValueError("unbalanced Go literal")


def _split_top(body: str) -> Iterator[str]:
    depth, start, index = 0, 0, 0
    while index < len(body):
        char = body[index]
        if char in "\"'`":
            index = _skip_literal(body, index)
            continue
        if body.startswith("//", index):
            index = body.index("\n", index) if "\n" in body[index:] else len(body)
            continue
        if char in "{([":
            depth += 1
        elif char in "})]":
            depth -= 1
        elif char == "," and depth == 0:
            yield body[start:index]
            start = index + 1
        index += 1
    yield body[start:]


def _outer_maps(text: str) -> list[tuple[int, int]]:
    """(start of body, end of body) of each schema map in `text` not nested in another one."""
    spans: list[tuple[int, int]] = []
    position = 0
    while match := _MAP_START.search(text, position):
        if text[: match.start()].rstrip().endswith(")"):
            # `func() map[string]*schema.Schema {`: a function's result type; its body holds the map.
            position = match.end()
            continue
        close = _matching(text, match.end() - 1)
        spans.append((match.end(), close - 1))
        position = close
    return spans


class SchemaReader:
    def __init__(self, files: dict[str, str]) -> None:
        self.files = files  # goindex file name -> text, for one service package

    def schema_of(self, tf_type: str) -> str | None:
        """The schema source of `tf_type`, found through the package's registrations
        (`Factory: resourceX, TypeName: "aws_x"` in its SDKResources / FrameworkResources)."""
        for kind in ("SDKResources", "FrameworkResources"):
            registrations = {
                name: factory
                for factory, name in _REGISTRATION.findall(
                    self.files.get(f"method.servicePackage.{kind}.goindex", "")
                )
            }
            factory = registrations.get(tf_type)
            if factory is None:
                continue
            factory_text = self.files.get(f"func.{factory}.goindex", "")
            if kind == "SDKResources":
                # A schema kept in a package variable (`Schema: maps.Clone(subscriptionSchema)`,
                # aws_sns_topic_subscription) is read from that variable's file.
                shared = re.search(r"\bSchema:\s*(?:maps\.Clone\()?(\w+)\)?,", factory_text)
                if shared and (variable := self.files.get(f"var.{shared[1]}.goindex")):
                    return factory_text + "\n" + variable
                return factory_text
            struct = _STRUCT.search(factory_text[factory_text.find("func ") :])
            if struct:
                return self._framework_schema(struct[1])
        return None

    def _framework_schema(self, struct: str) -> str | None:
        """`method.<struct>.Schema`, or that of a struct it embeds (ingress/egress rules share one)."""
        if text := self.files.get(f"method.{struct}.Schema.goindex"):
            return text
        declaration = self.files.get(f"type.{struct}.goindex", "")
        for embedded in re.findall(r"^\s*\*?(\w+)\s*$", declaration, re.MULTILINE):
            if text := self.files.get(f"method.{embedded}.Schema.goindex"):
                return text
        return None

    def local_constant(self, name: str) -> str | None:
        """A package-level `attrRestAPIID = "rest_api_id"` (kept as `var.<name>`/`const.<name>` files)."""
        for kind in ("var", "const"):
            text = self.files.get(f"{kind}.{name}.goindex")
            if text and (value := re.search(rf'\b{name}\s*=\s*"([a-z0-9_]+)"', text)):
                return value[1]
        return None

    def helper(self, name: str) -> str | None:
        return self.files.get(f"func.{name}.goindex")

    def attributes(self, text: str, prefix: str = "") -> Iterator[tuple[str, str]]:
        """(dotted Terraform path, the attribute's own text without nested maps) for every attribute."""
        for start, end in _outer_maps(text):
            for entry in _split_top(text[start:end]):
                match = _KEY.match(entry)
                if match is None:
                    continue
                name = match["literal"] or (
                    const_to_attr(match["const"]) if match["const"] else self.local_constant(match["local"])
                )
                if name is None:
                    continue
                value = entry[match.end() :]
                called = _HELPER_CALL.match(value)
                if called and (helper := self.helper(called[1])):
                    value = helper
                nested = _outer_maps(value)
                own = value
                for nested_start, nested_end in reversed(nested):
                    own = own[:nested_start] + own[nested_end:]
                path = f"{prefix}{name}"
                yield path, own
                if nested:
                    yield from self.attributes(value, path + ".")


def terraform_replacements(reader: SchemaReader, schema_text: str) -> tuple[list[str], list[str]]:
    always: list[str] = []
    conditional: list[str] = []
    for path, own in reader.attributes(schema_text):
        if _REPLACES.search(own):
            always.append(path)
        elif _REPLACES_IF.search(own):
            conditional.append(path)
    for match in _FORCE_NEW_IF.finditer(schema_text):
        conditional.append(match[1] or const_to_attr(match[2]))
    return sorted(set(always)), sorted(set(conditional) - set(always))


# --------------------------------------------------------------------------------------------------
# Pulumi side


def pulumi_types(package_root: Path | None = None) -> dict[str, list[str]]:
    """Every resource token of an installed bridged SDK (default pulumi_aws) with its input names."""
    root = package_root or Path(pulumi_aws.__file__).parent
    found: dict[str, list[str]] = {}
    for path in sorted(root.rglob("*.py")):
        text = path.read_text(encoding="utf-8")
        for match in _TOKEN.finditer(text):
            init = text.rfind("def _internal_init", 0, match.start())
            inputs = [name for name, value in _INPUT.findall(text, init, match.start()) if name == value]
            found[match[2]] = inputs
    return found


def terraform_type_candidates(token: str) -> list[str]:
    if token in _EXPLICIT_TF_TYPES:
        return [_EXPLICIT_TF_TYPES[token]]
    module = token.split(":")[1].split("/")[0]
    name = token.rsplit(":", 1)[1]
    snake = _ACRONYMS.sub(lambda m: f"{m[1]}_{m[2]}" if m[1] else f"{m[3]}_{m[4]}", name).lower()
    prefixes = _TF_PREFIXES.get(module, (module,))
    candidates = []
    for prefix in prefixes:
        candidates.append(f"aws_{prefix}_{snake}" if prefix else f"aws_{snake}")
        if module == "bedrock" and snake.startswith("agent_"):
            candidates.append(f"aws_{prefix}_{snake.removeprefix('agent_')}")
    if module == "bedrock" and snake.startswith("agentcore_"):
        candidates.append(f"aws_bedrockagentcore_{snake.removeprefix('agentcore_')}")
    return candidates


def _pulumi_name(tf_path: str, inputs: set[str], tf_type: str) -> str | None:
    """The Pulumi input a Terraform attribute path is exposed as (top level renamed; nested camelCased)."""
    top, _, rest = tf_path.partition(".")
    own_name = tf_type.removeprefix("aws_").rsplit("_", 1)[-1]
    for candidate in (
        top,
        top + "_",
        top.removesuffix("_id"),
        top.removesuffix("_name"),
        top.removesuffix("_arn"),
        top + "s",  # a repeatable block the bridge pluralises (encryption_configuration)
    ):
        if candidate in inputs:
            break
    else:
        if top.endswith("_name") and top.removesuffix("_name").endswith(own_name) and "name" in inputs:
            candidate = "name"
        else:
            return None
    dotted = [camel(candidate)] + [camel(part) for part in rest.split(".") if part]
    return ".".join(dotted)


# --------------------------------------------------------------------------------------------------
# The index


class Index:
    def __init__(self, git_dir: Path, rev: str) -> None:
        self.git_dir, self.rev = git_dir, rev
        listing = self._git("ls-tree", "-r", "--name-only", rev, "index/")
        self.paths = set(listing.splitlines())
        self.version = self._git("log", "-1", "--format=%s", rev).strip()
        self.commit = self._git("rev-parse", rev).strip()

    def _git(self, *args: str) -> str:
        return subprocess.run(  # noqa: S603 (git on the index the user named)
            ["git", "--git-dir", str(self.git_dir), *args],  # noqa: S607
            check=True,
            capture_output=True,
            text=True,
        ).stdout

    def read(self, path: str) -> str:
        return self._git("show", f"{self.rev}:{path}")

    def package_files(self, package_dir: str) -> dict[str, str]:
        names = [
            p
            for p in self.paths
            if p.startswith(package_dir + "/") and p.count("/") == package_dir.count("/") + 1
        ]
        # One `git cat-file --batch` for the whole package: thousands of files stay fast.
        request = "".join(f"{self.rev}:{name}\n" for name in names)
        output = subprocess.run(  # noqa: S603
            ["git", "--git-dir", str(self.git_dir), "cat-file", "--batch"],  # noqa: S607
            input=request.encode(),
            check=True,
            capture_output=True,
        ).stdout
        files: dict[str, str] = {}
        position = 0
        for name in names:
            header_end = output.index(b"\n", position)
            size = int(output[position:header_end].split()[2])
            body = output[header_end + 1 : header_end + 1 + size]
            files[name.rsplit("/", 1)[1]] = body.decode("utf-8", errors="replace")
            position = header_end + 1 + size + 1
        return files


def generate(index: Index) -> dict[str, object]:
    tf_resources = {
        Path(path).stem: path
        for path in index.paths
        if path.startswith("index/resources/") and path.endswith(".json")
    }
    packages: dict[str, SchemaReader] = {}
    types: dict[str, dict[str, object]] = {}
    for token, snake_inputs in sorted(pulumi_types().items()):
        tf_type = next((c for c in terraform_type_candidates(token) if c in tf_resources), None)
        if tf_type is None:
            continue
        meta = json.loads(index.read(tf_resources[tf_type]))
        package_dir = "index/internal/" + meta["namespace"].split("/internal/", 1)[1]
        if package_dir not in packages:
            packages[package_dir] = SchemaReader(index.package_files(package_dir))
        reader = packages[package_dir]
        schema_text = reader.schema_of(tf_type) or reader.files.get(meta["schema_index"], "")
        always, conditional = terraform_replacements(reader, schema_text)
        inputs = set(snake_inputs)
        entry = TypeEntry(terraform_type=tf_type)
        for path in always:
            name = _pulumi_name(path, inputs, tf_type)
            (entry.replace.append(name) if name else entry.unmapped.append(path))
        entry.conditional = [n for p in conditional if (n := _pulumi_name(p, inputs, tf_type))]
        if "name" in inputs:
            entry.autoname = "name"
        types[token] = {
            "terraform": entry.terraform_type,
            "replace": sorted(set(entry.replace)),
            **({"conditional": sorted(set(entry.conditional))} if entry.conditional else {}),
            **({"autoname": entry.autoname} if entry.autoname else {}),
            **({"unmapped": entry.unmapped} if entry.unmapped else {}),
        }
    return {
        "source": {
            "index": "lonegunmanb/terraform-provider-aws-index",
            "commit": index.commit,
            "version": index.version,
            "pulumi_aws": pulumi_aws_version(),
            "generator": "python -m offline.replacements_gen",
        },
        "types": types,
    }


def generate_time(git_dir: Path, rev: str | None) -> tuple[dict[str, dict[str, object]], dict[str, str]]:
    """The pulumiverse `time` provider's types, from hashicorp/terraform-provider-time at `rev`."""
    # Imported here: only the generator needs the pulumiverse SDK (the plan reads the committed table).
    pulumiverse_time = importlib.import_module("pulumiverse_time")

    def git(*args: str) -> str:
        return subprocess.run(  # noqa: S603
            ["git", "--git-dir", str(git_dir), *args],  # noqa: S607
            check=True,
            capture_output=True,
            text=True,
        ).stdout

    if rev is None:
        tags = [t for t in git("tag", "--list", "v0.*").split() if "-" not in t]
        rev = max(tags, key=lambda t: tuple(int(p) for p in t[1:].split(".")))
    types: dict[str, dict[str, object]] = {}
    for token, snake_inputs in sorted(pulumi_types(Path(str(pulumiverse_time.__file__)).parent).items()):
        name = token.rsplit(":", 1)[1]
        snake = _ACRONYMS.sub(lambda m: f"{m[1]}_{m[2]}" if m[1] else f"{m[3]}_{m[4]}", name).lower()
        source = git("show", f"{rev}:internal/provider/resource_time_{snake}.go")
        start = source.index(") Schema(ctx")
        body = source[start : _matching(source, source.index("{", start))]
        always, conditional = terraform_replacements(SchemaReader({}), body)
        inputs = set(snake_inputs)
        mapped = [n for p in always if (n := _pulumi_name(p, inputs, f"time_{snake}"))]
        types[token] = {
            "terraform": f"time_{snake}",
            "replace": sorted(set(mapped)),
            **({"conditional": sorted(conditional)} if conditional else {}),
        }
    commit = git("rev-parse", f"{rev}^{{commit}}").strip()
    return types, {"repository": "hashicorp/terraform-provider-time", "tag": rev, "commit": commit}


def pulumi_aws_version() -> str:
    from importlib.metadata import version

    return version("pulumi_aws")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m offline.replacements_gen", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--index", type=Path, required=True, help="git dir of terraform-provider-aws-index")
    parser.add_argument("--rev", default="HEAD", help="commit of the index (one per provider version)")
    parser.add_argument("--time-repo", type=Path, default=None, help="git dir of terraform-provider-time")
    parser.add_argument("--time-rev", default=None, help="its tag (default: the newest v0.* tag)")
    parser.add_argument("--out", type=Path, default=OUTPUT)
    args = parser.parse_args(argv)
    table = generate(Index(args.index, args.rev))
    if args.time_repo is not None:
        time_types, time_source = generate_time(args.time_repo, args.time_rev)
        table["types"] = {**time_types, **table["types"]}  # type: ignore[dict-item]
        table["source_time"] = time_source
    args.out.write_text(json.dumps(table, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    types = table["types"]
    assert isinstance(types, dict)
    print(f"wrote {args.out}: {len(types)} types from {table['source']}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
