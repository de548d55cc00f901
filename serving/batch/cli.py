"""``bastion batch submit|status|cancel|download``: the Batch API of a running Bastion, through
the official openai SDK (docs/batch.md)."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

if TYPE_CHECKING:
    import openai

__all__ = ["app", "prepare", "submit", "wait"]

app = typer.Typer(no_args_is_help=True, help="Batch jobs on a running server (docs/batch.md).")

FINAL = frozenset({"completed", "failed", "cancelled", "expired"})

UrlOpt = Annotated[
    str,
    typer.Option("--url", envvar="BASTION_URL", help="The server, e.g. http://127.0.0.1:8000."),
]
KeyOpt = Annotated[
    str, typer.Option("--key", envvar="BASTION_API_KEY", help="An app key of the tenant.")
]


def _client(url: str, key: str) -> openai.OpenAI:
    import openai

    return openai.OpenAI(base_url=url.rstrip("/") + "/v1", api_key=key, max_retries=2)


def prepare(data: bytes, model: str | None, endpoint: str) -> bytes:
    """The batch input file: lines that are already batch requests keep their custom id and body
    (``model`` filled in where a body has none); a bare request body (``{"messages": ...}``) or
    a bare text becomes a request with custom id ``line-N``."""
    out: list[str] = []
    for number, raw in enumerate(data.decode("utf-8").splitlines(), start=1):
        if not raw.strip():
            continue
        try:
            line: Any = json.loads(raw)
        except ValueError:
            line = raw  # a text of its own
        if isinstance(line, dict) and "body" in line:
            body = dict(line["body"])
            cid = line.get("custom_id", f"line-{number}")
        elif isinstance(line, dict):
            body, cid = dict(line), f"line-{number}"
        else:
            key = "input" if endpoint == "/v1/embeddings" else "messages"
            text = line if isinstance(line, str) else json.dumps(line)
            body = {key: text} if key == "input" else {key: [{"role": "user", "content": text}]}
            cid = f"line-{number}"
        if model is not None:
            body.setdefault("model", model)
        request = {"custom_id": cid, "method": "POST", "url": endpoint, "body": body}
        out.append(json.dumps(request, ensure_ascii=False))
    return ("\n".join(out) + "\n").encode()


def submit(client: openai.OpenAI, data: bytes, endpoint: str) -> Any:
    uploaded = client.files.create(file=("batch.jsonl", data), purpose="batch")
    return client.batches.create(
        input_file_id=uploaded.id,
        endpoint=endpoint,  # type: ignore[arg-type]
        completion_window="24h",
    )


def wait(client: openai.OpenAI, batch_id: str, progress: bool = True, poll_s: float = 1.0) -> Any:
    """Poll until the batch is final, with a progress bar of the lines done."""
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

    with Progress(
        "[progress.description]{task.description}",
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=Console(stderr=True),  # stdout keeps only the results
        disable=not progress,
    ) as bar:
        task = bar.add_task(batch_id, total=None)
        while True:
            batch = client.batches.retrieve(batch_id)
            counts = batch.request_counts
            if counts is not None:
                bar.update(
                    task,
                    total=counts.total,
                    completed=counts.completed + counts.failed,
                    description=batch.status,
                )
            if batch.status in FINAL:
                return batch
            time.sleep(poll_s)


def _describe(batch: Any) -> str:
    counts = batch.request_counts
    done = f"{counts.completed} ok, {counts.failed} failed of {counts.total}" if counts else ""
    files = f" output={batch.output_file_id}" if batch.output_file_id else ""
    files += f" errors={batch.error_file_id}" if batch.error_file_id else ""
    return f"{batch.id} {batch.status} {done}{files}"


def download(client: openai.OpenAI, batch_id: str, out: Path) -> list[Path]:
    """Write the output (and error) file of a finished batch next to ``out``."""
    batch = client.batches.retrieve(batch_id)
    written: list[Path] = []
    for file_id, path in (
        (batch.output_file_id, out),
        (batch.error_file_id, out.with_name(out.stem + ".errors" + out.suffix)),
    ):
        if file_id:
            path.write_bytes(client.files.content(file_id).content)
            written.append(path)
    return written


@app.command("submit")
def submit_cmd(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="JSONL requests.")],
    url: UrlOpt,
    key: KeyOpt,
    model: Annotated[
        str | None, typer.Option("--model", help="Model for lines that name none.")
    ] = None,
    endpoint: Annotated[
        str, typer.Option("--endpoint", help="/v1/chat/completions, /v1/completions, ...")
    ] = "/v1/chat/completions",
    wait_: Annotated[bool, typer.Option("--wait", help="Wait, with a progress bar.")] = False,
    out: Annotated[
        Path | None, typer.Option("--out", help="With --wait: write the output here.")
    ] = None,
) -> None:
    """Upload FILE and start a batch; with --wait, follow it to the end."""
    import openai

    client = _client(url, key)
    try:
        batch = submit(client, prepare(file.read_bytes(), model, endpoint), endpoint)
        typer.echo(batch.id)
        if wait_:
            batch = wait(client, batch.id)
            typer.echo(_describe(batch))
            if out is not None:
                for path in download(client, batch.id, out):
                    typer.echo(f"wrote {path}")
    except openai.APIStatusError as exc:
        typer.echo(f"error {exc.status_code}: {exc.message}", err=True)
        raise typer.Exit(1) from None
    except (UnicodeDecodeError, openai.APIConnectionError) as exc:
        typer.echo(f"error: {type(exc).__name__}", err=True)
        raise typer.Exit(1) from None


@app.command("status")
def status_cmd(batch_id: str, url: UrlOpt, key: KeyOpt) -> None:
    """The batch's status and counts."""
    typer.echo(_describe(_client(url, key).batches.retrieve(batch_id)))


@app.command("cancel")
def cancel_cmd(batch_id: str, url: UrlOpt, key: KeyOpt) -> None:
    """Cancel the batch (lines already done stay in its output)."""
    typer.echo(_describe(_client(url, key).batches.cancel(batch_id)))


@app.command("download")
def download_cmd(
    batch_id: str,
    url: UrlOpt,
    key: KeyOpt,
    out: Annotated[Path, typer.Option("--out", help="The output JSONL.")] = Path("output.jsonl"),
) -> None:
    """Write the output and error files of a finished batch."""
    paths = download(_client(url, key), batch_id, out)
    for path in paths:
        typer.echo(f"wrote {path}")
    if not paths:
        typer.echo("no output yet", err=True)
        raise typer.Exit(1)
