"""`bastion policy check|explain|test`: validate documents, explain one decision, run a table.

Mounted by serving/cli.py. Exit codes: 0 success, 1 invalid documents or a failing case,
2 usage errors (Typer's own).
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import typer
from pydantic import BaseModel, ConfigDict, Field

from policies.decide import Decision, DecisionInput, PolicyEngine
from policies.documents import PolicyDocumentError, PolicySet, load_documents, parse_yaml

__all__ = ["app"]

app = typer.Typer(
    help="Validate policy documents, explain a decision, run a table of expected decisions.",
    no_args_is_help=True,
    add_completion=False,
)

_POLICY_HELP = "Policy document or directory (repeatable). Default: $BASTION_POLICY_FILES."
_POLICY_ENV = "BASTION_POLICY_FILES"


def _load(files: list[Path]) -> PolicySet:
    """Load documents or print every located issue to stderr and exit 1."""
    if not files:
        typer.echo(f"no policy documents: pass --policy or set {_POLICY_ENV}", err=True)
        raise typer.Exit(2)
    try:
        return load_documents(files)
    except PolicyDocumentError as err:
        for issue in err.issues:
            typer.echo(str(issue), err=True)
        typer.echo(f"{len(err.issues)} problem(s); documents rejected", err=True)
        raise typer.Exit(1) from None


def _classes(text: str) -> frozenset[str]:
    return frozenset(c.strip() for c in text.split(",") if c.strip())


def _show(decision: Decision) -> str:
    return "\n".join(
        [
            f"outcome: {decision.outcome}",
            f"rule: {decision.rule_id}",
            f"reason: {decision.reason}",
            f"model_version: {decision.model_version or '-'}",
            f"site: {decision.site or '-'}",
            f"policy_version: {decision.policy_version}",
        ]
    )


@app.command()
def check(
    files: list[Path] = typer.Argument(..., help="Policy documents or directories."),
) -> None:
    """Validate documents; print each problem as file:line: field: message."""
    policy = _load(files)
    typer.echo(
        f"ok: {len(policy.sites)} sites, {len(policy.tenants)} tenants, "
        f"{len(policy.models)} model versions, {len(policy.deny)} deny rules; "
        f"version {policy.version}"
    )


@app.command()
def explain(
    tenant: str = typer.Option(..., "--tenant", help="Tenant id."),
    model: str = typer.Option(..., "--model", help="Model name, name@version or alias."),
    classes: str = typer.Option("", "--classes", help="Data classes, comma-separated: PHI,PCI."),
    purpose: str | None = typer.Option(None, "--purpose", help="x-bastion-purpose value."),
    role: str = typer.Option("app", "--role", help="Role of the calling key."),
    policy: list[Path] = typer.Option([], "--policy", envvar=_POLICY_ENV, help=_POLICY_HELP),
) -> None:
    """Print the decision for one request, the rule that made it and the policy version."""
    engine = PolicyEngine(_load(policy))
    request = DecisionInput(tenant, role, "cli", model, _classes(classes), purpose)
    typer.echo(_show(engine.decide(request)))


class _Expect(BaseModel):
    model_config = ConfigDict(extra="forbid")

    outcome: Literal["allow", "deny", "reroute"] = Field(description="Expected outcome.")
    rule: str | None = Field(None, description="Expected rule id, e.g. deny/pci-not-on-ber.")
    model_version: str | None = Field(None, description="Expected name@version.")
    site: str | None = Field(None, description="Expected site id.")


class _Case(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(description="Shown in the report.")
    tenant: str = Field(description="Tenant id.")
    model: str = Field(description="Requested model, name@version or alias.")
    classes: list[str] = Field(default_factory=list, description="Data classes detected.")
    purpose: str | None = Field(None, description="x-bastion-purpose value.")
    role: str = Field("app", description="Role of the calling key.")
    expect: _Expect = Field(description="What the decision must be.")


class _Cases(BaseModel):
    model_config = ConfigDict(extra="forbid")

    policy: list[str] = Field(
        default_factory=list, description="Policy documents, relative to the cases file."
    )
    cases: list[_Case] = Field(min_length=1, description="The table.")


def _mismatches(case: _Case, got: Decision) -> list[str]:
    want = case.expect
    pairs = [
        ("outcome", want.outcome, got.outcome),
        ("rule", want.rule, got.rule_id),
        ("model_version", want.model_version, got.model_version),
        ("site", want.site, got.site),
    ]
    return [f"{k}: expected {w}, got {g}" for k, w, g in pairs if w is not None and w != g]


@app.command("test")
def test(
    cases: Path = typer.Argument(..., help="YAML table of cases (see docs/policy.md)."),
    policy: list[Path] = typer.Option([], "--policy", envvar=_POLICY_ENV, help=_POLICY_HELP),
) -> None:
    """Run a table of expected decisions; exit 1 if any case differs."""
    try:
        docs = parse_yaml(cases.read_text(encoding="utf-8"), str(cases))
        if len(docs) != 1:
            typer.echo(f"{cases}: expected exactly one YAML document", err=True)
            raise typer.Exit(1)
        table = docs[0].validate(_Cases)
    except OSError as err:
        typer.echo(f"{cases}: cannot read: {type(err).__name__}", err=True)
        raise typer.Exit(1) from None
    except PolicyDocumentError as err:
        for issue in err.issues:
            typer.echo(str(issue), err=True)
        raise typer.Exit(1) from None
    files = policy or [cases.parent / p for p in table.policy]
    engine = PolicyEngine(_load(files))
    failed = 0
    for case in table.cases:
        request = DecisionInput(
            case.tenant, case.role, "cli", case.model, frozenset(case.classes), case.purpose
        )
        got = engine.decide(request)
        problems = _mismatches(case, got)
        failed += bool(problems)
        typer.echo(f"{'FAIL' if problems else 'ok  '} {case.name}")
        for problem in problems:
            typer.echo(f"       {problem}")
    typer.echo(
        f"{len(table.cases) - failed} passed, {failed} failed; policy version {engine.version}"
    )
    if failed:
        raise typer.Exit(1)
