"""Policy documents: YAML files naming sites, tenants, model versions and deny rules.

`load_documents` reads one or more files (or directories of `*.yaml`), validates each against
`PolicyDocument`, merges them and cross-checks every reference. Any problem raises
`PolicyDocumentError`, whose issues name the file, the line and the field. Error messages
MUST NOT echo document values: the field path and line locate the problem.
"""

from __future__ import annotations

import hashlib
import ipaddress
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, TypeVar

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
    model_validator,
)

from policies.audit.retention import TenantAudit
from policies.budgets import UsageLimits
from policies.guardrails.settings import GuardrailSettings
from serving.semantic_cache.config import TenantCache

__all__ = [
    "BUILTIN_DATA_CLASSES",
    "DenyRule",
    "ModelVersion",
    "PolicyDocument",
    "PolicyDocumentError",
    "PolicyIssue",
    "PolicySet",
    "RuleMatch",
    "Site",
    "Tenant",
    "YamlDocument",
    "load_documents",
    "load_texts",
    "normalize_host",
    "parse_yaml",
]

BUILTIN_DATA_CLASSES: tuple[str, ...] = ("PHI", "PCI", "PII")

_ID = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$"
_NAME = r"^[A-Za-z0-9][A-Za-z0-9._:/-]{0,127}$"
_VERSION_ID = r"^[A-Za-z0-9][A-Za-z0-9._:/-]{0,127}@[A-Za-z0-9][A-Za-z0-9._+-]{0,63}$"
_REF = r"^[A-Za-z0-9][A-Za-z0-9._:/@+-]{0,191}$"
_CLASS = r"^[A-Z][A-Z0-9_]{0,31}$"
_JURISDICTION = r"^[A-Z]{2}$"
_REGION = r"^[A-Za-z0-9][A-Za-z0-9_-]{0,31}$"

M = TypeVar("M", bound=BaseModel)
IdRef = Annotated[str, StringConstraints(pattern=_ID)]
ModelRef = Annotated[str, StringConstraints(pattern=_REF)]
Alias = Annotated[str, StringConstraints(pattern=_NAME)]
ClassName = Annotated[str, StringConstraints(pattern=_CLASS)]
Jurisdiction = Annotated[str, StringConstraints(pattern=_JURISDICTION)]
Region = Annotated[str, StringConstraints(pattern=_REGION)]
Role = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_-]{0,31}$")]
# A DNS name (lowercase labels), an IPv4 address or a bracketed IPv6 address, optionally `:port`.
_HOST = (
    r"^(?:(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)*[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?"
    r"|\[[0-9a-f:.]{2,45}\])(?::[0-9]{1,5})?$"
)
UpstreamHost = Annotated[str, StringConstraints(pattern=_HOST, max_length=260)]


def normalize_host(host: str, port: int | None = None) -> str:
    """The canonical form of a host (and port) as `Site.upstream_hosts` lists it: lowercase,
    IPv6 bracketed and compressed, no trailing dot."""
    host = host.strip().rstrip(".").lower()
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        pass
    else:
        host = f"[{address.compressed}]" if address.version == 6 else address.compressed
    return host if port is None else f"{host}:{port}"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Site(_Strict):
    """A place where models run: one Ray site resource, one jurisdiction."""

    id: str = Field(pattern=_ID, description="Site id, e.g. de-fra-1; also its Ray resource name.")
    jurisdiction: str = Field(
        pattern=_JURISDICTION, description="ISO 3166-1 alpha-2 country code, e.g. DE."
    )
    region: str = Field(pattern=_REGION, description="Legal/economic region, e.g. EU.")
    external: bool = Field(
        False, description="True when the site is an upstream outside the operator's control."
    )
    upstream_hosts: tuple[UpstreamHost, ...] = Field(
        (),
        description="Hosts of OpenAI-compatible servers (engine `openai`) that run at this site: "
        "a DNS name or IP address, optionally with `:port` (then only that port). A model version "
        "on this site may forward only to a host listed here; Bastion refuses to start otherwise.",
    )

    @model_validator(mode="after")
    def _hosts(self) -> Site:
        seen: set[str] = set()
        for entry in self.upstream_hosts:
            host, port = _split_host(entry)
            if port is not None and not 0 < port < 65536:
                raise ValueError("upstream_hosts: port out of range")
            if host.startswith("[") and not _is_ip(host[1:-1], 6):
                raise ValueError("upstream_hosts: not an IPv6 address")
            canonical = normalize_host(host, port)
            if canonical in seen:
                raise ValueError("upstream_hosts: a host is listed twice")
            seen.add(canonical)
        return self

    def allows_upstream(self, host: str, port: int) -> bool:
        """True when `host` (any spelling) on `port` is one of this site's upstream hosts."""
        bare = normalize_host(host)
        listed = {normalize_host(*_split_host(h)) for h in self.upstream_hosts}
        return bare in listed or f"{bare}:{port}" in listed


def _is_ip(text: str, version: int) -> bool:
    try:
        return ipaddress.ip_address(text).version == version
    except ValueError:
        return False


def _split_host(entry: str) -> tuple[str, int | None]:
    """`host[:port]` (IPv6 bracketed) -> (host, port or None)."""
    if entry.startswith("["):
        end = entry.index("]")
        rest = entry[end + 1 :]
        return entry[: end + 1], int(rest[1:]) if rest else None
    name, sep, port = entry.partition(":")
    return name, int(port) if sep else None


class Tenant(_Strict):
    """What one tenant may use: sites, models/aliases, purposes; and its baseline data classes."""

    id: str = Field(pattern=_ID, description="Tenant id, as carried by its API keys.")
    sites: tuple[IdRef, ...] = Field(
        min_length=1, description="Site ids where this tenant's requests may run."
    )
    models: tuple[ModelRef, ...] = Field(
        min_length=1,
        description="Model names, name@version ids or aliases this tenant may call.",
    )
    default_data_classes: tuple[ClassName, ...] = Field(
        (), description="Data classes every request of this tenant carries, detected or not."
    )
    purposes: tuple[IdRef, ...] | None = Field(
        None,
        description="Allowed x-bastion-purpose values; when set, a request must name one of them.",
    )
    reroute: dict[ModelRef, tuple[ModelRef, ...]] = Field(
        default_factory=dict,
        description="Requested model/alias -> aliases to try, in order, when it cannot serve.",
    )
    cache: TenantCache | None = Field(
        None,
        description="Opt in to the semantic cache (serving/semantic_cache/, docs/cache.md).",
    )
    usage: UsageLimits | None = Field(
        None,
        description="Budgets and rate limits of this tenant and its keys (policies/budgets.py, "
        "docs/usage-and-budgets.md).",
    )
    audit: TenantAudit | None = Field(
        None,
        description="Audit settings of this tenant, e.g. capture_retention_days "
        "(policies/audit/retention.py, docs/audit.md).",
    )
    guardrails: GuardrailSettings | None = Field(
        None,
        description="Input and output guardrails: injection screening, limits, blocked topics, "
        "system-prompt leakage, blocked output (policies/guardrails/, docs/guardrails.md). "
        "Unset: the defaults (injection screening on, action block).",
    )

    def permits(self, model: ModelVersion) -> bool:
        """The tenant lists the version by id, by name, or by an alias the version serves."""
        granted = self.models
        return (
            model.id in granted
            or model.name in granted
            or any(alias in granted for alias in model.aliases)
        )


class ModelVersion(_Strict):
    """One deployable model version, pinned to one site and approved for some data classes."""

    id: str = Field(pattern=_VERSION_ID, description="name@version, e.g. llama-3.1-8b@q4-2024-07.")
    site: str = Field(pattern=_ID, description="The site this version runs on.")
    approved_data_classes: tuple[ClassName, ...] = Field(
        (), description="Data classes this version is approved to process."
    )
    aliases: tuple[Alias, ...] = Field(
        (), description="Aliases this version serves, e.g. chat or chat-phi."
    )

    @property
    def name(self) -> str:
        return self.id.partition("@")[0]


class RuleMatch(_Strict):
    """Conditions of a deny rule: every given condition must hold; a list holds if any item does."""

    data_classes: tuple[ClassName, ...] | None = Field(
        None, description="The request carries any of these data classes."
    )
    tenants: tuple[IdRef, ...] | None = Field(None, description="The tenant is one of these.")
    roles: tuple[Role, ...] | None = Field(None, description="The key's role is one of these.")
    purposes: tuple[IdRef, ...] | None = Field(None, description="The purpose is one of these.")
    models: tuple[ModelRef, ...] | None = Field(
        None, description="The model version matches one of these names, ids or aliases."
    )
    sites: tuple[IdRef, ...] | None = Field(None, description="The model version's site is listed.")
    jurisdictions: tuple[Jurisdiction, ...] | None = Field(
        None, description="The site's jurisdiction is one of these."
    )
    outside_jurisdictions: tuple[Jurisdiction, ...] | None = Field(
        None, description="The site's jurisdiction is none of these."
    )
    regions: tuple[Region, ...] | None = Field(
        None, description="The site's region is one of these."
    )
    outside_regions: tuple[Region, ...] | None = Field(
        None, description="The site's region is none of these."
    )
    external: bool | None = Field(None, description="The site is (true) / is not (false) external.")

    @model_validator(mode="after")
    def _not_empty(self) -> RuleMatch:
        if all(value is None for value in self.__dict__.values()):
            raise ValueError("a deny rule needs at least one condition")
        return self


class DenyRule(_Strict):
    """An explicit prohibition, e.g. PCI never on site X."""

    id: str = Field(pattern=r"^[a-z0-9][a-z0-9._-]{0,63}$", description="Rule id, unique.")
    reason: str = Field(
        min_length=1,
        max_length=200,
        description="Shown to clients in the 403 body; MUST NOT contain identifiers.",
    )
    when: RuleMatch = Field(description="When the rule applies to a request on a model version.")


class PolicyDocument(_Strict):
    """One YAML document; a policy set merges any number of them."""

    label: str | None = Field(
        None, pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$", description="Release label."
    )
    data_classes: tuple[ClassName, ...] = Field(
        (), description="Data classes beyond the built-in PHI, PCI and PII."
    )
    sites: tuple[Site, ...] = Field((), description="Sites.")
    tenants: tuple[Tenant, ...] = Field((), description="Tenants.")
    models: tuple[ModelVersion, ...] = Field((), description="Model versions.")
    deny: tuple[DenyRule, ...] = Field((), description="Explicit deny rules.")


class PolicySet(_Strict):
    """The merged, validated content of all documents, with its version."""

    version: str = Field(description="[label+]sha256:<12 hex> over the canonical content.")
    label: str | None = Field(None, description="Release label, if a document gave one.")
    data_classes: tuple[str, ...] = Field(description="All known data classes.")
    sites: tuple[Site, ...] = Field(description="Sites, in document order.")
    tenants: tuple[Tenant, ...] = Field(description="Tenants, in document order.")
    models: tuple[ModelVersion, ...] = Field(description="Model versions, in document order.")
    deny: tuple[DenyRule, ...] = Field(description="Deny rules, in document order.")
    sources: tuple[str, ...] = Field(description="The files it was read from.")

    def site(self, site_id: str) -> Site | None:
        """The site with this id, or None."""
        return next((s for s in self.sites if s.id == site_id), None)

    def resolve(self, requested: str) -> tuple[ModelVersion, ...]:
        """Model versions that a name, name@version id or alias designates (document order)."""
        return tuple(
            m for m in self.models if requested in (m.id, m.name) or requested in m.aliases
        )


@dataclass(frozen=True)
class PolicyIssue:
    """One problem in one document: where (file, 1-based line, field path) and what."""

    file: str
    line: int | None
    field: str | None
    message: str

    def __str__(self) -> str:
        where = self.file if self.line is None else f"{self.file}:{self.line}"
        return (
            f"{where}: {self.field}: {self.message}" if self.field else f"{where}: {self.message}"
        )


class PolicyDocumentError(Exception):
    """The documents are invalid; `issues` lists every problem found."""

    def __init__(self, issues: Sequence[PolicyIssue]) -> None:
        self.issues = tuple(issues)
        super().__init__("\n".join(str(issue) for issue in self.issues))


Path_ = tuple[str | int, ...]
# libyaml's parser keeps marks too and is ~20x faster; the pure-Python one is the fallback.
_Loader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


@dataclass
class YamlDocument:
    """Plain data parsed from one YAML document, with the line of every key and list item."""

    source: str
    data: Any
    lines: dict[Path_, int] = field(default_factory=dict)

    def issue(self, path: Path_, message: str) -> PolicyIssue:
        """An issue at `path`, located at the nearest line known for it or a parent."""
        for cut in range(len(path), -1, -1):
            if path[:cut] in self.lines:
                return PolicyIssue(self.source, self.lines[path[:cut]], _dotted(path), message)
        return PolicyIssue(self.source, None, _dotted(path) or None, message)

    def validate(self, model: type[M]) -> M:
        """Validate against a pydantic model; errors become located issues (no input values)."""
        try:
            return model.model_validate(self.data if self.data is not None else {})
        except ValidationError as err:
            raise PolicyDocumentError(
                [self.issue(tuple(e["loc"]), e["msg"]) for e in err.errors()]
            ) from None


def _dotted(path: Path_) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def parse_yaml(text: str, source: str) -> list[YamlDocument]:
    """Parse every document in `text` with safe YAML, keeping lines; duplicate keys are errors."""
    loader = _Loader(text)
    docs: list[YamlDocument] = []
    try:
        while loader.check_node():
            node = loader.get_node()
            doc = YamlDocument(source, None)
            doc.data = _construct(loader, node, (), doc)
            docs.append(doc)
    except yaml.MarkedYAMLError as err:
        mark = err.problem_mark or err.context_mark
        line = mark.line + 1 if mark else None
        raise PolicyDocumentError(
            [PolicyIssue(source, line, None, f"YAML syntax: {err.problem or err.context}")]
        ) from None
    finally:
        loader.dispose()
    return docs


def _construct(loader: Any, node: yaml.Node, path: Path_, doc: YamlDocument) -> Any:
    if isinstance(node, yaml.MappingNode):
        loader.flatten_mapping(node)
        out: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            key = loader.construct_object(key_node, deep=True)
            if not isinstance(key, str | int | bool | None):
                raise PolicyDocumentError([doc.issue(path, "mapping keys must be scalars")])
            if key in out:
                line = key_node.start_mark.line + 1
                raise PolicyDocumentError(
                    [PolicyIssue(doc.source, line, _dotted((*path, key)), "duplicate key")]
                )
            doc.lines[(*path, key)] = key_node.start_mark.line + 1
            out[key] = _construct(loader, value_node, (*path, key), doc)
        return out
    if isinstance(node, yaml.SequenceNode):
        items = []
        for index, item in enumerate(node.value):
            doc.lines[(*path, index)] = item.start_mark.line + 1
            items.append(_construct(loader, item, (*path, index), doc))
        return items
    return loader.construct_object(node, deep=True)


def _expand(paths: Iterable[Path]) -> list[Path]:
    files: list[Path] = []
    for path in paths:
        path = Path(path)
        if path.is_dir():
            files.extend(sorted([*path.glob("*.yaml"), *path.glob("*.yml")]))
        else:
            files.append(path)
    return files


def load_documents(paths: list[Path]) -> PolicySet:
    """Read, validate and merge policy documents (files, or directories of *.yaml/*.yml)."""
    sources: list[tuple[str, str]] = []
    issues: list[PolicyIssue] = []
    for path in _expand(paths):
        try:
            sources.append((str(path), path.read_text(encoding="utf-8")))
        except (OSError, UnicodeDecodeError) as err:
            issues.append(PolicyIssue(str(path), None, None, f"cannot read: {type(err).__name__}"))
    if issues:
        raise PolicyDocumentError(issues)
    return load_texts(sources)


def load_texts(sources: Sequence[tuple[str, str]]) -> PolicySet:
    """Like `load_documents`, from (source name, YAML text) pairs."""
    if not sources:
        raise PolicyDocumentError([PolicyIssue("<policy>", None, None, "no policy documents")])
    parsed: list[tuple[YamlDocument, PolicyDocument]] = []
    issues: list[PolicyIssue] = []
    for source, text in sources:
        try:
            for doc in parse_yaml(text, source):
                parsed.append((doc, doc.validate(PolicyDocument)))
        except PolicyDocumentError as err:
            issues.extend(err.issues)
    if issues:
        raise PolicyDocumentError(issues)
    _check_references(parsed)
    return _merge(parsed, tuple(source for source, _ in sources))


def _check_references(parsed: list[tuple[YamlDocument, PolicyDocument]]) -> None:
    """Cross-document checks: unique ids, one label, and every reference names a declared thing."""
    issues: list[PolicyIssue] = []
    seen: dict[tuple[str, str], PolicyIssue] = {}
    label: tuple[str, PolicyIssue] | None = None
    classes = set(BUILTIN_DATA_CLASSES)
    for yd, doc in parsed:
        classes.update(doc.data_classes)
        if doc.label is not None:
            here = yd.issue(("label",), "")
            if label is not None and label[0] != doc.label:
                issues.append(yd.issue(("label",), f"conflicts with the label at {_at(label[1])}"))
            label = label or (doc.label, here)
        for kind, items in (
            ("sites", doc.sites),
            ("tenants", doc.tenants),
            ("models", doc.models),
            ("deny", doc.deny),
        ):
            for i, item in enumerate(items):
                here = yd.issue((kind, i, "id"), "")
                if (kind, item.id) in seen:
                    first = _at(seen[(kind, item.id)])
                    issues.append(yd.issue((kind, i, "id"), f"duplicate id (first at {first})"))
                seen.setdefault((kind, item.id), here)

    sites = {s.id: s for _, d in parsed for s in d.sites}
    hosts: dict[str, tuple[str, PolicyIssue]] = {}  # a host runs at one site only
    for yd, doc in parsed:
        for i, site in enumerate(doc.sites):
            for j, entry in enumerate(site.upstream_hosts):
                here = yd.issue(("sites", i, "upstream_hosts", j), "")
                first = hosts.setdefault(normalize_host(*_split_host(entry)), (site.id, here))
                if first[0] != site.id:
                    issues.append(
                        yd.issue(
                            ("sites", i, "upstream_hosts", j),
                            f"host already listed for another site (at {_at(first[1])})",
                        )
                    )
    models = [m for _, d in parsed for m in d.models]
    names = {m.name for m in models}
    refs = names | {m.id for m in models} | {a for m in models for a in m.aliases}

    def need(
        yd: YamlDocument, path: Path_, values: Iterable[str] | None, known: set[str], what: str
    ) -> None:
        for i, value in enumerate(values or ()):
            if value not in known:
                issues.append(yd.issue((*path, i), f"unknown {what}"))

    jurisdictions = {s.jurisdiction for s in sites.values()}
    regions = {s.region for s in sites.values()}
    rule_refs = (
        ("data_classes", classes, "data class"),
        ("tenants", {t.id for _, d in parsed for t in d.tenants}, "tenant"),
        ("models", refs, "model, version or alias"),
        ("sites", set(sites), "site"),
        ("jurisdictions", jurisdictions, "jurisdiction"),
        ("outside_jurisdictions", jurisdictions, "jurisdiction"),
        ("regions", regions, "region"),
        ("outside_regions", regions, "region"),
    )
    for yd, doc in parsed:
        for i, m in enumerate(doc.models):
            if m.site not in sites:
                issues.append(yd.issue(("models", i, "site"), "unknown site"))
            need(
                yd,
                ("models", i, "approved_data_classes"),
                m.approved_data_classes,
                classes,
                "data class",
            )
            for j, alias in enumerate(m.aliases):
                if alias in names:
                    issues.append(
                        yd.issue(("models", i, "aliases", j), "alias equals a model name")
                    )
        for i, t in enumerate(doc.tenants):
            need(yd, ("tenants", i, "sites"), t.sites, set(sites), "site")
            need(
                yd,
                ("tenants", i, "default_data_classes"),
                t.default_data_classes,
                classes,
                "data class",
            )
            need(yd, ("tenants", i, "models"), t.models, refs, "model, version or alias")
            permitted = {m.id for m in models if t.permits(m)}
            for key, targets in t.reroute.items():
                if key not in refs:
                    issues.append(yd.issue(("tenants", i, "reroute", key), "unknown model"))
                for j, target in enumerate(targets):
                    resolved = {m.id for m in models if target in (m.id, m.name, *m.aliases)}
                    if not resolved & permitted:
                        issues.append(
                            yd.issue(
                                ("tenants", i, "reroute", key, j),
                                "target is not in this tenant's models",
                            )
                        )
        for i, r in enumerate(doc.deny):
            for name, known, what in rule_refs:
                values = getattr(r.when, name)
                need(yd, ("deny", i, "when", name), values, known, what)
    if issues:
        raise PolicyDocumentError(issues)


def _at(issue: PolicyIssue) -> str:
    return f"{issue.file}:{issue.line}"


def _merge(
    parsed: list[tuple[YamlDocument, PolicyDocument]], sources: tuple[str, ...]
) -> PolicySet:
    labels = [d.label for _, d in parsed if d.label]
    classes = list(BUILTIN_DATA_CLASSES)
    for _, d in parsed:
        classes.extend(c for c in d.data_classes if c not in classes)
    content = {
        "label": labels[0] if labels else None,
        "data_classes": tuple(classes),
        "sites": tuple(s for _, d in parsed for s in d.sites),
        "tenants": tuple(t for _, d in parsed for t in d.tenants),
        "models": tuple(m for _, d in parsed for m in d.models),
        "deny": tuple(r for _, d in parsed for r in d.deny),
    }
    canonical = json.dumps(
        {
            k: [_canonical(x) for x in v] if k in ("sites", "tenants", "models", "deny") else v
            for k, v in content.items()
        },
        sort_keys=True,
        separators=(",", ":"),
    )
    digest = "sha256:" + hashlib.sha256(canonical.encode()).hexdigest()[:12]
    version = f"{content['label']}+{digest}" if content["label"] else digest
    return PolicySet(version=version, sources=sources, **content)


def _canonical(item: BaseModel) -> dict[str, Any]:
    data = item.model_dump(mode="json")
    if isinstance(item, Tenant) and item.cache is None:
        del data["cache"]  # a tenant without the semantic cache hashes as before
    if isinstance(item, Tenant) and item.audit is None:
        del data["audit"]  # a tenant without audit settings hashes as before the field existed
    if isinstance(item, Tenant) and item.usage is None:
        del data["usage"]  # likewise for a tenant without budgets or rate limits
    if isinstance(item, Tenant) and item.guardrails is None:
        del data["guardrails"]  # a tenant without guardrail settings hashes as before
    if isinstance(item, Site) and not item.upstream_hosts:
        # A site without upstream hosts hashes as it did before the field existed, so versions
        # of documents written then (and recorded in audit logs) stay the same.
        del data["upstream_hosts"]
    return data
