"""``bastion eval run`` and ``bastion eval from-feedback`` (docs/evals.md)."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Annotated, Any

import typer

__all__ = ["app"]

app = typer.Typer(
    no_args_is_help=True, help="Eval sets: run them as a release gate; build them from feedback."
)

ConfigOpt = Annotated[
    Path | None, typer.Option("--config", "-c", help="bastion.yaml (default: $BASTION_CONFIG).")
]
DataDirOpt = Annotated[
    Path | None,
    typer.Option("--data-dir", envvar="BASTION_DATA_DIR", help="Data folder (keys, audit, state)."),
]


def _settings(config: Path | None, data_dir: Path | None) -> Any:
    from serving.config import ConfigError, load_settings

    try:
        settings = load_settings(config)
    except ConfigError as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(2) from None
    if data_dir is not None:
        settings = settings.model_copy(update={"data_dir": data_dir})
    return settings.model_copy(update={"data_dir": settings.data_dir.expanduser().resolve()})


async def _run(
    evalset: Path, model: str, url: str | None, key: str | None, tenant: str | None,
    settings: Any, progress: bool,
) -> tuple[list[dict[str, Any]], str]:  # fmt: skip
    import httpx
    import openai

    from serving.evals.cases import load_cases
    from serving.evals.checks import Checker
    from serving.evals.run import run_cases

    cases = load_cases(evalset)
    if url is not None:
        client = openai.AsyncOpenAI(base_url=url.rstrip("/") + "/v1", api_key=key, max_retries=0)
        async with client:
            return await run_cases(client, model, cases, Checker(), progress), url
    from serving.evals.inprocess import in_process

    async with in_process(settings, model, tenant) as local:
        http = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=local.app, client=("127.0.0.1", 5555)),
            base_url="http://bastion.eval/v1",
            timeout=600,
        )
        client = openai.AsyncOpenAI(
            base_url="http://bastion.eval/v1", api_key=local.key, http_client=http, max_retries=0
        )
        checker = Checker(lambda: local.embedder, lambda: local.redactor)
        async with client:
            cases_out = await run_cases(client, model, cases, checker, progress)
        return cases_out, f"in-process (tenant {local.tenant})"


@app.command("run")
def run(
    evalset: Annotated[Path, typer.Argument(help="JSONL eval set.", exists=True, dir_okay=False)],
    model: Annotated[str, typer.Option("--model", help="Alias, name or name@version.")],
    baseline: Annotated[
        Path | None, typer.Option("--baseline", help="A result file to compare with.")
    ] = None,
    tolerance: Annotated[
        float, typer.Option("--tolerance", min=0, max=1, help="Allowed drop of any score.")
    ] = 0.02,
    out: Annotated[Path | None, typer.Option("--out", help="Write the result JSON here.")] = None,
    html: Annotated[Path | None, typer.Option("--html", help="Write the HTML report here.")] = None,
    url: Annotated[
        str | None, typer.Option("--url", help="A running Bastion (default: in-process).")
    ] = None,
    key: Annotated[
        str | None, typer.Option("--key", envvar="BASTION_API_KEY", help="App key for --url.")
    ] = None,
    tenant: Annotated[
        str | None, typer.Option("--tenant", help="In-process: the tenant to run as.")
    ] = None,
    no_progress: Annotated[bool, typer.Option("--no-progress")] = False,
    config: ConfigOpt = None,
    data_dir: DataDirOpt = None,
) -> None:
    """Run EVALSET through the full pipeline; exit 1 when a score regresses beyond --tolerance
    against --baseline (a release gate)."""
    import openai

    from serving.evals.cases import EvalSetError
    from serving.evals.report import render_html
    from serving.evals.run import build_result, load_result

    if url is not None and not key:
        typer.echo("--url needs --key (or $BASTION_API_KEY)", err=True)
        raise typer.Exit(2)
    base = None
    if baseline is not None:
        try:
            base = load_result(baseline)
        except (OSError, ValueError) as exc:
            typer.echo(f"cannot read the baseline: {exc}", err=True)
            raise typer.Exit(2) from None
    settings = _settings(config, data_dir) if url is None else None
    try:
        cases, target = asyncio.run(
            _run(evalset, model, url, key, tenant, settings, not no_progress)
        )
    except (EvalSetError, ValueError) as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(2) from None
    except openai.APIConnectionError:
        typer.echo(f"cannot reach {url}", err=True)
        raise typer.Exit(2) from None
    result = build_result(evalset, model, target, cases, base, baseline, tolerance)
    if out is not None:
        out.write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    if html is not None:
        html.write_text(render_html(result), encoding="utf-8")
    passed_cases = sum(1 for c in cases if c["passed"])
    typer.echo(
        f"{passed_cases}/{len(cases)} cases passed; overall score {result['scores']['overall']:.3f}"
    )
    for r in result["regressions"]:
        typer.echo(
            f"REGRESSION {r['score']}: {r['baseline']:.3f} -> {r['now']:.3f} ({r['delta']:+.3f})",
            err=True,
        )
    if not result["passed"]:
        raise typer.Exit(1)


@app.command("from-feedback")
def from_feedback(
    out: Annotated[Path, typer.Option("--out", help="The eval set (JSONL) to write.")],
    since: Annotated[
        str | None, typer.Option("--since", help="2026-12-01, an ISO time, or 7d / 24h.")
    ] = None,
    config: ConfigOpt = None,
    data_dir: DataDirOpt = None,
) -> None:
    """Turn rated and corrected answers (POST /v1/feedback) into eval cases, still redacted."""
    from privacy import Redactor
    from serving.evals.cases import dump_cases
    from serving.evals.from_feedback import cases_from_feedback, parse_since
    from serving.feedback import list_feedback
    from state import StateError, open_state

    try:
        when = parse_since(since) if since else None
    except ValueError:
        typer.echo("--since: a date, an ISO time, or 7d / 24h", err=True)
        raise typer.Exit(2) from None
    settings = _settings(config, data_dir)
    try:
        store = open_state(settings.audit, settings.data_dir, migrate=False)
    except StateError as exc:
        typer.echo(f"cannot open the state store: {exc}", err=True)
        raise typer.Exit(1) from None
    try:
        records = list_feedback(store, when)
    finally:
        store.close()
    from serving.evals.from_feedback import attach_captured

    shredded = attach_captured(records, settings.audit, settings.data_dir)
    built = cases_from_feedback(records, Redactor(settings.privacy))
    dump_cases(built.cases, out)
    typer.echo(f"{len(built.cases)} cases from {len(records)} feedback records -> {out}")
    if built.skipped_no_messages:
        typer.echo(
            f"{built.skipped_no_messages} skipped: no captured input "
            "(audit.capture: redacted keeps it)",
            err=True,
        )
    if shredded:
        typer.echo(f"{shredded} skipped: their captured content was shredded", err=True)
    if built.skipped_no_reference:
        typer.echo(
            f"{built.skipped_no_reference} skipped: neither corrected nor rated well", err=True
        )
