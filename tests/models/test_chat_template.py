"""Chat templates render exactly as transformers' ``apply_chat_template`` renders them: the same
extensions (loop controls, the generation block) and the same ``tojson``."""

from __future__ import annotations

import pytest

from models.engines.chat_template import ChatTemplateError, render_chat_template

MESSAGES = [
    {"role": "system", "content": 'Réponds en français <b>"gras"</b> & court.'},
    {"role": "user", "content": "Zürich → Genève?"},
    {"role": "assistant", "content": "Oui."},
    {"role": "user", "content": "Et après ?"},
]

TEMPLATES = {
    "loopcontrols": (
        "{% for m in messages %}{% if m['role'] == 'system' %}{% continue %}{% endif %}"
        "{{ m['role'] }}: {{ m['content'] }}\n{% if loop.index > 2 %}{% break %}{% endif %}"
        "{% endfor %}{% if add_generation_prompt %}assistant:{% endif %}"
    ),
    "tojson": (
        "{{ bos_token }}{% for m in messages %}{{ m | tojson }}|{{ m | tojson(indent=2) }}"
        "|{{ m['content'] | tojson(ensure_ascii=True) }}\n{% endfor %}{{ eos_token }}"
    ),
    "generation": (
        "{% for m in messages %}{% if m['role'] == 'assistant' %}{% generation %}"
        "{{ m['content'] }}{% endgeneration %}{% else %}{{ m['content'] }}{% endif %}|"
        "{% endfor %}"
    ),
    "trim": (
        "{% for m in messages %}\n  {% if loop.first %}\n[{{ m['role'] }}]\n  {% endif %}\n"
        "{{ m['content'] }}\n{% endfor %}"
    ),
}


@pytest.mark.parametrize("name", sorted(TEMPLATES))
def test_renders_like_transformers(name):
    utils = pytest.importorskip("transformers.utils.chat_template_utils")
    template = TEMPLATES[name]
    ours = render_chat_template(template, MESSAGES, "<s>", "</s>")
    theirs = utils._compile_jinja_template(template).render(
        messages=MESSAGES,
        tools=None,
        documents=None,
        add_generation_prompt=True,
        bos_token="<s>",
        eos_token="</s>",
    )
    assert ours == theirs


def test_bundled_model_template_renders_like_transformers(llama_engine):
    utils = pytest.importorskip("transformers.utils.chat_template_utils")
    template = llama_engine._template
    assert template, "the bundled GGUF carries its chat template"
    theirs = utils._compile_jinja_template(template).render(
        messages=MESSAGES[:2], add_generation_prompt=True, bos_token="", eos_token=""
    )
    assert render_chat_template(template, MESSAGES[:2]) == theirs


def test_template_errors_are_typed():
    raising = "{{ raise_exception('roles must alternate') }}"
    with pytest.raises(ChatTemplateError, match="roles must alternate"):
        render_chat_template(raising, MESSAGES)
    with pytest.raises(ChatTemplateError):
        render_chat_template("{% for %}", MESSAGES)
