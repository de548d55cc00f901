"""``bastion redact`` (privacy.cli.redact) through Typer, as the lead mounts it."""

from __future__ import annotations

import json
from pathlib import Path

import typer
from typer.testing import CliRunner

from privacy.cli import redact

app = typer.Typer()
app.command()(redact)
runner = CliRunner()


def test_jsonl_round_trip() -> None:
    texts = ["Pt John Smith, MRN 4829113.", "no identifiers here", "Card 4111 1111 1111 1111"]
    stdin = "\n".join(json.dumps({"text": t}) for t in texts) + "\n"
    result = runner.invoke(app, [], input=stdin)
    assert result.exit_code == 0, result.output
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert len(lines) == 3
    assert lines[0]["text"] == "Pt [PERSON_1], MRN [MRN_1]."
    assert lines[1] == {"text": "no identifiers here", "entities": []}
    for original, line in zip(texts, lines, strict=True):
        for ent in line["entities"]:
            assert set(ent) == {"type", "start", "end", "score"}
            assert original[ent["start"] : ent["end"]] in {
                "John Smith",
                "4829113",
                "4111 1111 1111 1111",
            }


def test_text_mode() -> None:
    result = runner.invoke(app, ["--text"], input="Call 617-555-0134\nthanks\n")
    assert result.exit_code == 0
    line = json.loads(result.stdout)
    assert line["text"] == "Call [PHONE_1]\nthanks\n"
    assert line["entities"] == [{"type": "PHONE", "start": 5, "end": 17, "score": 1.0}]


def test_config_file(tmp_path: Path) -> None:
    cfg = tmp_path / "bastion.yaml"
    cfg.write_text("server: {port: 8000}\nprivacy:\n  operator: mask\n  entities: [SSN]\n")
    result = runner.invoke(
        app, ["--config", str(cfg)], input='{"text": "SSN 123-45-6789, Dr. Ana Ruiz"}\n'
    )
    assert result.exit_code == 0
    assert json.loads(result.stdout)["text"] == "SSN ***********, Dr. Ana Ruiz"


def test_many_lines_keep_their_order() -> None:
    texts = [f"Pt Jane Doe, MRN {4000000 + i}" if i % 3 else "plain line" for i in range(70)]
    stdin = "".join(json.dumps({"text": t}) + "\n" for t in texts)
    result = runner.invoke(app, [], input=stdin)
    assert result.exit_code == 0
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert len(lines) == 70
    for text, line in zip(texts, lines, strict=True):
        assert line["text"] == (
            "plain line" if text == "plain line" else "Pt [PERSON_1], MRN [MRN_1]"
        )


def test_bad_input_line_does_not_echo_it() -> None:
    result = runner.invoke(app, [], input='{"text": "ok"}\nSSN 123-45-6789 not json\n')
    assert result.exit_code == 2
    assert json.loads(result.stdout) == {"text": "ok", "entities": []}
    assert "123-45-6789" not in result.output.replace(result.stdout, "")
    assert "line 2" in result.output


def test_bad_config_is_rejected(tmp_path: Path) -> None:
    cfg = tmp_path / "bad.yaml"
    cfg.write_text("privacy:\n  operator: shred\n")
    result = runner.invoke(app, ["--config", str(cfg)], input="")
    assert result.exit_code == 2
