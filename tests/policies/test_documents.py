"""Loading policy documents: merging, versions, and errors that name file, line and field."""

from __future__ import annotations

from pathlib import Path

import pytest

from policies.documents import PolicyDocumentError, load_documents, load_texts
from tests.policies.policy_docs import ALL, MODELS, RULES, SITES, TENANTS, write_policy, write_split


def test_loads_the_reference_policy(tmp_path: Path) -> None:
    policy = load_documents([write_policy(tmp_path)])
    assert [s.id for s in policy.sites] == ["de-fra-1", "de-ber-1", "us-east-1", "ext-upstream"]
    assert [t.id for t in policy.tenants] == ["bank-fra", "hospital", "research"]
    assert len(policy.models) == 5 and len(policy.deny) == 8
    assert policy.data_classes == ("PHI", "PCI", "PII", "CONFIDENTIAL")
    assert policy.label == "2026-11-a"
    assert policy.version.startswith("2026-11-a+sha256:")
    assert len(policy.version.rsplit(":", 1)[1]) == 12
    assert policy.sources == (str(tmp_path / "policy.yaml"),)


def test_split_files_and_a_directory_give_the_same_version(tmp_path: Path) -> None:
    whole = load_documents([write_policy(tmp_path)])
    split_dir = tmp_path / "split"
    split_dir.mkdir()
    split = load_documents(write_split(split_dir))
    as_dir = load_documents([split_dir])
    assert whole.version == split.version == as_dir.version
    assert len(as_dir.sources) == 4


def test_version_ignores_formatting_but_not_content() -> None:
    base = load_texts([("a.yaml", ALL)]).version
    reformatted = load_texts(
        [("b.yaml", "# a comment\n" + ALL.replace("  - {id: de-fra-1", "  -  {id: de-fra-1"))]
    )
    changed = load_texts(
        [("a.yaml", ALL.replace("reason: PCI data is never", "reason: PCI is never"))]
    )
    unlabelled = load_texts([("a.yaml", ALL.replace("label: 2026-11-a\n", ""))])
    assert reformatted.version == base
    assert changed.version != base
    assert unlabelled.version.startswith("sha256:") and unlabelled.version[7:] != base[-12:]


def test_several_documents_in_one_file() -> None:
    policy = load_texts([("all.yaml", SITES + "---\n" + MODELS + "---\n" + TENANTS)])
    assert len(policy.tenants) == 3 and policy.deny == ()


def test_resolve_names_ids_and_aliases() -> None:
    policy = load_texts([("p.yaml", ALL)])
    ids = lambda ref: [m.id for m in policy.resolve(ref)]  # noqa: E731
    assert ids("llama-3.1-8b") == ["llama-3.1-8b@q4-2024-07", "llama-3.1-8b@q4-2024-09"]
    assert ids("chat") == ["mistral-7b@v0.3", "llama-3.1-70b@fp8-2024-07"]
    assert ids("gpt-4o@2024-08") == ["gpt-4o@2024-08"]
    assert ids("nothing") == []


# (description, text to load, a substring of the offending line, field, message fragment)
BAD = [
    (
        "missing field",
        SITES.replace("de-fra-1, jurisdiction: DE, region: EU}", "de-fra-1, region: EU}"),
        "{id: de-fra-1,",
        "sites[0].jurisdiction",
        "Field required",
    ),
    (
        "misspelt field",
        SITES.replace(
            "us-east-1, jurisdiction: US, region: NA}", "us-east-1, jurisdiction: US, regoin: NA}"
        ),
        "regoin",
        "sites[2].regoin",
        "Extra inputs are not permitted",
    ),
    (
        "bad jurisdiction",
        SITES.replace("us-east-1, jurisdiction: US", "us-east-1, jurisdiction: usa"),
        "usa",
        "sites[2].jurisdiction",
        "String should match pattern",
    ),
    (
        "unknown site in a model",
        SITES
        + MODELS.replace(
            "site: de-ber-1\n    approved_data_classes: [PII]\n",
            "site: de-mun-1\n    approved_data_classes: [PII]\n",
        ),
        "de-mun-1",
        "models[1].site",
        "unknown site",
    ),
    (
        "malformed data class",
        SITES + MODELS.replace("[PII, PCI]", "[PII, pci]"),
        "[PII, pci]",
        "models[2].approved_data_classes[1]",
        "String should match pattern",
    ),
    (
        "undeclared data class",
        SITES + MODELS.replace("[PII, PCI]", "[PII, PAYMENT]"),
        "PAYMENT",
        "models[2].approved_data_classes[1]",
        "unknown data class",
    ),
    (
        "alias equal to a model name",
        SITES + MODELS.replace("aliases: [chat-external]", "aliases: [mistral-7b]"),
        "aliases: [mistral-7b]",
        "models[4].aliases[0]",
        "alias equals a model name",
    ),
    (
        "tenant names an unknown model",
        SITES
        + MODELS
        + TENANTS.replace("[llama-3.1-70b, chat-external]", "[llama-3.1-70b, chat-xternal]"),
        "chat-xternal",
        "tenants[2].models[1]",
        "unknown model, version or alias",
    ),
    (
        "tenant names an unknown site",
        SITES + MODELS + TENANTS.replace("[us-east-1, ext-upstream]", "[us-east-1, us-west-2]"),
        "us-west-2",
        "tenants[2].sites[1]",
        "unknown site",
    ),
    (
        "reroute to a model the tenant may not call",
        SITES
        + MODELS
        + TENANTS.replace("gpt-4o: [chat-secure]", "gpt-4o: [llama-3.1-8b@q4-2024-09]"),
        "gpt-4o: [llama",
        "tenants[1].reroute.gpt-4o[0]",
        "not in this tenant's models",
    ),
    (
        "deny rule without conditions",
        SITES + MODELS + TENANTS + RULES.replace("when: {roles: [auditor]}", "when: {}"),
        "when: {}",
        "deny[7].when",
        "at least one condition",
    ),
    (
        "deny rule on a region no site has",
        SITES + MODELS + TENANTS + RULES.replace("regions: [NA]}", "regions: [APAC]}"),
        "[APAC]",
        "deny[1].when.regions[0]",
        "unknown region",
    ),
    (
        "deny rule on an unknown tenant",
        SITES + MODELS + TENANTS + RULES.replace("tenants: [hospital]", "tenants: [clinic]"),
        "clinic",
        "deny[3].when.tenants[0]",
        "unknown tenant",
    ),
    (
        "duplicate key",
        SITES.replace("  - {id: de-ber-1,", "  - {id: de-ber-1, id: x,"),
        "id: x",
        "sites[1].id",
        "duplicate key",
    ),
    (
        "YAML syntax",
        SITES.replace("  - {id: us-east-1,", "  - {id: [us-east-1,"),
        None,
        None,
        "YAML syntax",
    ),
    ("top level is a list", "- sites\n", None, None, "valid dictionary"),
]


@pytest.mark.parametrize(
    ("text", "marker", "field", "fragment"), [b[1:] for b in BAD], ids=[b[0] for b in BAD]
)
def test_errors_name_file_line_and_field(
    text: str, marker: str | None, field: str | None, fragment: str
) -> None:
    with pytest.raises(PolicyDocumentError) as caught:
        load_texts([("ops/policy.yaml", text)])
    issue = next(i for i in caught.value.issues if fragment in i.message)
    assert issue.file == "ops/policy.yaml"
    if marker is not None:
        line = next(n for n, row in enumerate(text.splitlines(), 1) if marker in row)
        assert (issue.line, issue.field) == (line, field)
        assert str(issue).startswith(f"ops/policy.yaml:{line}: {field}: ")


def test_duplicate_ids_across_files_point_at_both(tmp_path: Path) -> None:
    first = write_policy(tmp_path, SITES, "a.yaml")
    second = write_policy(
        tmp_path, "sites:\n  - {id: us-east-1, jurisdiction: US, region: NA}\n", "b.yaml"
    )
    with pytest.raises(PolicyDocumentError) as caught:
        load_documents([first, second])
    (issue,) = caught.value.issues
    assert (issue.file, issue.line, issue.field) == (str(second), 2, "sites[0].id")
    assert f"first at {first}:6" in issue.message


def test_conflicting_labels_are_rejected() -> None:
    with pytest.raises(PolicyDocumentError, match=r"b\.yaml:1: label: conflicts"):
        load_texts([("a.yaml", SITES), ("b.yaml", "label: other\n")])


def test_every_problem_is_reported_at_once() -> None:
    text = SITES.replace("region: NA}", "regoin: NA}") + "tenants:\n  - {id: t}\n"
    with pytest.raises(PolicyDocumentError) as caught:
        load_texts([("p.yaml", text)])
    fields = {issue.field for issue in caught.value.issues}
    assert {"sites[2].regoin", "sites[2].region", "tenants[0].sites", "tenants[0].models"} <= fields


def test_missing_file_and_no_files(tmp_path: Path) -> None:
    with pytest.raises(PolicyDocumentError, match="cannot read: FileNotFoundError"):
        load_documents([tmp_path / "absent.yaml"])
    with pytest.raises(PolicyDocumentError, match="no policy documents"):
        load_documents([])


def test_errors_do_not_echo_document_values() -> None:
    secret = "4111111111111111"
    text = SITES.replace(
        "jurisdiction: US, region: NA}", f"jurisdiction: '{secret}', region: NA}}", 1
    )
    with pytest.raises(PolicyDocumentError) as caught:
        load_texts([("p.yaml", text)])
    assert secret not in str(caught.value)


def test_empty_document_is_an_empty_policy() -> None:
    policy = load_texts([("empty.yaml", "# nothing yet\n")])
    assert policy.tenants == () and policy.data_classes == ("PHI", "PCI", "PII")
