"""Prompt templates in the registry: declared in the configuration, validated at load time,
rendered by plain substitution (a value can never inject another placeholder)."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from models.prompts import PromptError, PromptTemplate, PromptTemplates, render
from models.registry import Registry, RegistryConfig
from serving.config import ModelConfig

TRIAGE = PromptTemplate(
    name="triage",
    version="2",
    template="You triage for ward {{ ward }}. Answer in {{language}}.",
    variables={"ward": None, "language": "English"},
)


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        ({"ward": "4B"}, "You triage for ward 4B. Answer in English."),
        ({"ward": "4B", "language": "German"}, "You triage for ward 4B. Answer in German."),
        # a value that looks like a placeholder stays text: one pass, left to right
        ({"ward": "{{ language }}"}, "You triage for ward {{ language }}. Answer in English."),
    ],
)
def test_render(values, expected):
    assert render(TRIAGE, values) == expected


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({}, "required: ward"),
        ({"ward": "1", "patient": "x"}, "no such variable"),
        ({"ward": "x" * 4001}, "at most 4000"),
    ],
)
def test_bad_variables_are_refused(values, message):
    with pytest.raises(PromptError, match=message):
        render(TRIAGE, values)


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"template": "Hi {{ name }}"}, "not declared"),
        ({"template": "Hi", "variables": {"name": None}}, "not used"),
        ({"template": "Hi {{ Name }}", "variables": {"Name": None}}, "lowercase"),
        ({"name": "Triage Prompt", "template": "Hi"}, "lowercase"),
    ],
)
def test_bad_templates_fail_at_load_time(fields, message):
    with pytest.raises(ValidationError, match=message):
        PromptTemplate(**{"name": "t", "version": "1", **fields})


def test_one_catalog_holds_model_versions_and_prompt_templates():
    newer = TRIAGE.model_copy(update={"version": "3"})
    registry = Registry(
        [ModelConfig(name="m"), ModelConfig(name="m", version="v2")], prompts=[TRIAGE, newer]
    )
    assert registry.prompts.latest("triage") == newer  # the one configured last
    assert registry.prompts.get("triage@2") == TRIAGE
    assert registry.targets() == {
        "m@v1": "model",
        "m@v2": "model",
        "triage@2": "prompt",
        "triage@3": "prompt",
    }
    with pytest.raises(ValueError, match="declared twice"):
        PromptTemplates([TRIAGE, TRIAGE])


def test_configured_aliases_are_starting_points():
    config = RegistryConfig(aliases={"prod": "m@v1", "canary": {"m@v1": 90, "m@v2": 10}})
    assert config.initial_aliases() == {
        "prod": {"m@v1": 100},
        "canary": {"m@v1": 90, "m@v2": 10},
    }
    with pytest.raises(ValidationError, match="lowercase"):
        RegistryConfig(aliases={"Prod!": "m@v1"})


def test_an_alias_may_not_take_a_model_or_prompt_name(tmp_path):
    from state.sqlite import SqliteStateStore

    registry = Registry([ModelConfig(name="m")], prompts=[TRIAGE])
    store = SqliteStateStore(tmp_path / "state.db")
    try:
        with pytest.raises(ValueError, match="must not be model or prompt names: m, triage"):
            registry.follow(store, initial={"m": {"m@v1": 100}, "triage": {"triage@2": 1}})
    finally:
        store.close()


@pytest.mark.parametrize(
    ("aliases", "message"),
    [
        ({"prod": "m@v9"}, "not a configured model or prompt version"),
        ({"m": "m@v1"}, "may not take a model or prompt name"),
        ({"prod": {"m@v1": 50, "triage@2": 50}}, "not both"),
        ({"prod": {"m@v1": 0}}, "positive weights"),
    ],
)
def test_bad_starting_points_are_a_configuration_error(aliases, message):
    from serving.config import Settings

    registry = {"aliases": aliases, "prompts": [TRIAGE.model_dump()]}
    with pytest.raises(ValidationError, match=message):
        Settings(models=[{"name": "m"}], registry=registry)
    Settings(models=[{"name": "m"}], registry={"aliases": {"prod": "m@v1"}})
