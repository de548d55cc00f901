"""Word knowledge for the pair verifier (verify.py), written by hand from general clinical and
banking vocabulary — not from any evaluation question.

- ``SYNONYMS``: words that ask the same thing, mapped to one form before a question's signature
  is taken (``kid`` → ``child``, ``dosage`` → ``dose``), so a rewording keeps its overlap.
- ``SLOTS``: closed classes whose members are *not* interchangeable (a population, a drug, a
  body part, a card or account type, a direction, an extreme ...). A question that is a cached
  one with one member of a class swapped for another (``adult`` → ``child``, ``credit`` →
  ``debit``, ``before`` → ``after``) asks something else; the verifier sees it as a feature.
"""

from __future__ import annotations

__all__ = ["SLOTS", "SYNONYMS", "slot_of"]

SYNONYMS: dict[str, str] = {
    "kid": "child",
    "children": "child",
    "youngster": "child",
    "paediatric": "child",
    "pediatric": "child",
    "baby": "infant",
    "adolescent": "teenager",
    "teen": "teenager",
    "grown": "adult",
    "dosage": "dose",
    "dosing": "dose",
    "fractured": "broken",
    "fracture": "break",
    "anaemia": "anemia",
    "anaemic": "anemic",
    "haemoglobin": "hemoglobin",
    "acetaminophen": "paracetamol",
    "tylenol": "paracetamol",
    "advil": "ibuprofen",
    "jab": "vaccine",
    "shot": "vaccine",
    "vaccination": "vaccine",
    "immunization": "vaccine",
    "immunisation": "vaccine",
    "inoculation": "vaccine",
    "sugar": "glucose",
    "pulse": "heartbeat",
    "checking": "current",
    "fit": "seizure",
    "convulsion": "seizure",
    "pill": "tablet",
    "medicine": "medication",
    "drug": "medication",
    "physician": "doctor",
    "gp": "doctor",
    "hypertension": "hypertension",
    "hypertensive": "hypertension",
    "expecting": "pregnant",
    "pregnancy": "pregnant",
    "nursing": "breastfeeding",
    "elderly": "older",
    "senior": "older",
    "aged": "older",
    "fee": "charge",
    "cost": "charge",
    "price": "charge",
    "commission": "charge",
    "cancel": "cancel",
    "terminate": "cancel",
    "revoke": "cancel",
    "modify": "change",
    "update": "change",
    "alter": "change",
    "amend": "change",
    "edit": "change",
    "lift": "increase",
    "raise": "increase",
    "boost": "increase",
    "improve": "increase",
    "lower": "decrease",
    "reduce": "decrease",
    "cut": "decrease",
    "block": "freeze",
    "lock": "freeze",
    "suspend": "freeze",
    "unblock": "unfreeze",
    "unlock": "unfreeze",
    "greatest": "maximum",
    "highest": "maximum",
    "max": "maximum",
    "most": "maximum",
    "upper": "maximum",
    "least": "minimum",
    "lowest": "minimum",
    "min": "minimum",
    "mend": "heal",
    "recover": "heal",
    "symptom": "sign",
    "indication": "sign",
    "infectious": "contagious",
    "transmissible": "contagious",
    "atm": "cashpoint",
    "lost": "lose",
    "missing": "lose",
    "stolen": "steal",
    "abroad": "foreign",
    "overseas": "foreign",
    "international": "foreign",
    "wire": "transfer",
    "remittance": "transfer",
    "mortgage": "mortgage",
    "home": "home",
}

_SLOT_WORDS: dict[str, str] = {  # words separated by spaces
    # who the question is about
    "population": (
        "adult child infant newborn toddler teenager older woman man pregnant breastfeeding "
        "healthy elderly student business joint partner spouse"
    ),
    # how much / which end
    "extreme": "maximum minimum average single daily weekly monthly yearly annual total",
    "order": "first second third last next previous final initial",
    "degree": (
        "mild moderate severe serious early late advanced chronic acute rare common minor "
        "major dangerous normal abnormal high low safe unsafe fast slow"
    ),
    # what happens
    "direction": (
        "increase decrease open close add remove start stop begin end activate deactivate "
        "cancel freeze unfreeze apply withdraw deposit send receive buy sell pay borrow lend "
        "join leave gain lose raise drop"
    ),
    "relation": "before after during while with without until since",
    # what about
    "card": "credit debit prepaid virtual contactless",
    "account": ("savings current business joint isa pension investment student premium basic"),
    "product": (
        "mortgage loan overdraft deposit bond card account cheque cash transfer order debit "
        "insurance pension statement pin password username"
    ),
    "channel": "online mobile app branch phone post mail cashpoint",
    "body": (
        "head face eye ear nose mouth throat neck chest back arm elbow wrist hand finger hip "
        "leg knee ankle foot toe skin heart lung liver kidney bladder bowel stomach brain "
        "bone muscle joint tooth teeth breast prostate colon spine shoulder"
    ),
    "drug": (
        "paracetamol ibuprofen aspirin naproxen diclofenac codeine morphine tramadol "
        "amoxicillin penicillin azithromycin clarithromycin erythromycin doxycycline "
        "ciprofloxacin metronidazole nitrofurantoin trimethoprim cephalexin flucloxacillin "
        "metformin insulin gliclazide sitagliptin empagliflozin warfarin apixaban "
        "rivaroxaban heparin clopidogrel atorvastatin simvastatin rosuvastatin statin "
        "lisinopril ramipril amlodipine losartan bisoprolol atenolol furosemide "
        "levothyroxine prednisolone prednisone omeprazole lansoprazole ranitidine "
        "sertraline fluoxetine citalopram amitriptyline diazepam lorazepam zopiclone "
        "salbutamol montelukast cetirizine loratadine antihistamine antibiotic "
        "antidepressant steroid contraceptive"
    ),
    "nutrient": (
        "vitamin iron calcium potassium sodium magnesium zinc folate folic b12 protein salt "
        "sugar caffeine alcohol water fibre fat cholesterol ldl hdl glucose"
    ),
}

SLOTS: dict[str, str] = {}  # normalized word -> its closed class's one-letter code
for _code, _words in zip("abcdefghijklmnopqrstuvwxyz", _SLOT_WORDS.values(), strict=False):
    for _word in _words.split():
        SLOTS.setdefault(SYNONYMS.get(_word, _word), _code)


def slot_of(lemma: str) -> str | None:
    """The one-letter code of a (normalized) lemma's closed class, or None."""
    return SLOTS.get(lemma)
