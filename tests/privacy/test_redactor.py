"""Redactor behaviour: placeholders across messages, tenants, allow-lists, batch, failures."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest
from pydantic import ValidationError

from privacy import ENTITY_DATA_CLASSES, ENTITY_TYPES, PrivacyConfig, RedactionError, Redactor

MESSAGES = [
    "You are a clinical assistant.",
    "Summarize: Pt John Carter, MRN 00482913, DOB 03/14/1961. Card 4111 1111 1111 1111.",
    "Also mention that John Carter's wife called from 617-555-0134.",
]


@pytest.fixture(scope="module")
def tenant_redactor(redactor: Redactor, monkeypatch_module) -> Redactor:
    monkeypatch_module.setenv("BASTION_TEST_SALT", "s3cret-salt")
    config = PrivacyConfig(
        tenants={
            "st-marys": {"allow_list": ["St. Mary's Hospital"]},
            "masker": {"operator": "mask"},
            "hasher": {"operator": "hash", "hash_salt_ref": "env:BASTION_TEST_SALT"},
            "cards-only": {"entities": ["CARD"]},
            "open": {"fail_closed": False},
        }
    )
    r = Redactor(config)
    r._analyzer = redactor._analyzer  # share the loaded model
    return r


@pytest.fixture(scope="module")
def monkeypatch_module():
    mp = pytest.MonkeyPatch()
    yield mp
    mp.undo()


def test_messages_share_one_mapping(redactor: Redactor) -> None:
    result = redactor.redact_messages(MESSAGES, tenant="any")
    assert result.texts[0] == MESSAGES[0]
    assert "[PERSON_1]" in result.texts[1] and "[PERSON_1]" in result.texts[2]
    joined = " ".join(result.texts)
    for value in ("John", "Carter", "00482913", "03/14/1961", "4111", "617-555-0134"):
        assert value not in joined
    assert result.data_classes == {"PHI", "PCI", "PII"}
    assert result.entity_counts["PERSON"] == 2
    assert result.count == sum(result.entity_counts.values())
    answer = "Dear <PERSON_1>, your card <CARD_1> and MRN <mrn 1> are noted."
    assert result.restore(answer) == (
        "Dear John Carter, your card 4111 1111 1111 1111 and MRN 00482913 are noted."
    )


def test_result_repr_shows_no_values(redactor: Redactor) -> None:
    result = redactor.redact_messages(MESSAGES, tenant="")
    text = repr(result) + str(result.entity_counts) + str(result.data_classes)
    assert "John" not in text and "00482913" not in text


def test_stream_restore_matches_whole(redactor: Redactor) -> None:
    result = redactor.redact_messages(MESSAGES, tenant="")
    answer = "<PERSON_1> (MRN <MRN_1>) was born <DATE_1>; call <PHONE_1>."
    restorer = result.stream_restorer()
    streamed = "".join(restorer.feed(answer[i : i + 3]) for i in range(0, len(answer), 3))
    assert streamed + restorer.flush() == result.restore(answer)


def test_allow_list_per_tenant(tenant_redactor: Redactor) -> None:
    text = "Admitted to St. Mary's Hospital by Dr. Ana Ruiz."
    plain = tenant_redactor.redact_messages([text], tenant="other").texts[0]
    allowed = tenant_redactor.redact_messages([text], tenant="st-marys").texts[0]
    assert "St. Mary's Hospital" in allowed and "Ana Ruiz" not in allowed
    assert "Ana Ruiz" not in plain


def test_mask_and_hash_tenants(tenant_redactor: Redactor) -> None:
    text = ["SSN 123-45-6789 for Dr. Ana Ruiz"]
    masked = tenant_redactor.redact_messages(text, tenant="masker")
    assert masked.texts[0] == "SSN *********** for Dr. *** ****"
    h1 = tenant_redactor.redact_messages(text, tenant="hasher").texts[0]
    h2 = tenant_redactor.redact_messages(text, tenant="hasher").texts[0]
    assert h1 == h2 and "123-45-6789" not in h1 and h1.startswith("SSN [SSN_")
    assert masked.restore("<SSN_1>") == "<SSN_1>"


def test_entity_subset_per_tenant(tenant_redactor: Redactor) -> None:
    result = tenant_redactor.redact_messages(MESSAGES, tenant="cards-only")
    assert set(result.entity_counts) == {"CARD"}
    assert result.data_classes == {"PCI"}


def test_fail_open_tenant_degrades_to_patterns(tenant_redactor: Redactor, monkeypatch) -> None:
    # Fault injection: the model pass (spaCy) failing at run time cannot be caused with a real
    # input.
    def broken(texts, deadline, batch=64):
        raise MemoryError("simulated")

    monkeypatch.setattr(tenant_redactor._analyzer, "detect", broken)
    result = tenant_redactor.redact_messages(MESSAGES, tenant="open")
    assert result.degraded and "00482913" not in result.texts[1]
    with pytest.raises(RedactionError) as err:
        tenant_redactor.redact_messages(MESSAGES, tenant="other")
    assert "MemoryError" in str(err.value) and "Carter" not in str(err.value)


def test_batch_matches_single(redactor: Redactor) -> None:
    batch = [MESSAGES, ["Email jane@mercy-health.org"], ["nothing here"], MESSAGES[1:]]
    tenants = ["a", "b", "c", "d"]
    together = redactor.redact_batch(batch, tenants)
    for texts, tenant, result in zip(batch, tenants, together, strict=True):
        single = redactor.redact_messages(texts, tenant)
        assert result.texts == single.texts
        assert result.entity_counts == single.entity_counts


def test_batch_isolates_a_failing_request() -> None:
    r = Redactor(PrivacyConfig(max_input_chars=200))
    out = r.redact_batch([["x" * 500], ["SSN 123-45-6789"]], ["a", "b"], return_exceptions=True)
    assert isinstance(out[0], RedactionError)
    assert out[1].texts == ["SSN [SSN_1]"]
    with pytest.raises(RedactionError):
        r.redact_batch([["x" * 500], ["ok"]], ["a", "b"])


def test_thread_safety(redactor: Redactor) -> None:
    texts = [f"Pt Jane Doe{i}, MRN {4000000 + i}" for i in range(16)]
    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(lambda t: redactor.redact_messages([t], "x"), texts))
    for i, result in enumerate(results):
        assert str(4000000 + i) not in result.texts[0]
        assert result.restore("<MRN_1>") == str(4000000 + i)


def test_config_rejects_unknown_entities_and_keys() -> None:
    with pytest.raises(ValidationError):
        PrivacyConfig(entities=["PERSON", "SHOE_SIZE"])
    with pytest.raises(ValidationError):
        PrivacyConfig(colour="blue")
    with pytest.raises(ValidationError):
        PrivacyConfig(tenants={"t": {"operator": "shred"}})
    with pytest.raises(ValidationError):
        PrivacyConfig(hash_salt_ref="s3cret")


def test_missing_salt_fails_at_construction(monkeypatch) -> None:
    monkeypatch.delenv("NO_SUCH_SALT", raising=False)
    with pytest.raises(ValueError, match="NO_SUCH_SALT"):
        Redactor(PrivacyConfig(operator="hash", hash_salt_ref="env:NO_SUCH_SALT"))


def test_every_entity_type_has_a_data_class() -> None:
    assert set(ENTITY_DATA_CLASSES) == set(ENTITY_TYPES)
    assert all(
        classes <= {"PHI", "PCI", "PII"} and classes for classes in ENTITY_DATA_CLASSES.values()
    )


def test_merged_span_takes_the_type_of_its_longest_member(detect) -> None:
    # "Jennifer" alone reads as a person; inside the street line it is part of an ADDRESS.
    assert detect("Lives at 4821 Jennifer Junction Apt. 5 with his dog.") == [
        ("ADDRESS", "4821 Jennifer Junction Apt. 5")
    ]
