"""Pattern rules for known prompt-injection forms (written against the tuning family only).

Each rule is a named regular expression over a normalized form of the text (NFKC, lower case,
zero-width characters removed, whitespace collapsed). The text is also checked as
de-leeted (``1gn0r3`` → ``ignore``), with spaced-out letters joined (``I G N O R E``), and
base64 / hex payloads are decoded and checked. A match names its rule id (a machine token);
the text itself is never returned.
"""

from __future__ import annotations

import base64
import binascii
import re
import unicodedata
from collections.abc import Iterator

__all__ = ["RULES", "match_rules"]

_VERB = (
    r"(?:ignore|disregard|forget|override|overrule|bypass|abandon|discard|drop|skip|neglect|"
    r"set aside|pay no attention to|overlook|throw out|scrap|unlearn|suspend|disable|turn off|"
    r"reset|deactivate|lift|break free of|free yourself from|stop following|stop obeying|"
    r"no longer follow|do not follow|don't follow)"
)
_OBJ = (
    r"(?:instructions?|instruct|directions?|directives?|rules?|guidelines?|guidance|prompts?|"
    r"programming|orders?|commands?|constraints?|restrictions?|polic(?:y|ies)|guardrails?|"
    r"(?:content )?filters?|filtering|safety (?:features?|checks?|layer|training|rules)|"
    r"system (?:message|prompt)|training|setup text|configuration|content policy)"
)
_AI = r"(?:ai|assistant|language model|llm|model|bot|chatbot|agents?|gpt|chatgpt)"

RULES: dict[str, re.Pattern[str]] = {
    # "ignore all previous instructions" and its many forms
    "ignore_instructions": re.compile(
        rf"\b{_VERB}\b\W+(?:(?!my\b|our\b|its\b|their\b)[\w'-]+\W+){{0,5}}?{_OBJ}\b"
        r"(?!\s+on\s+(?:my|the|our|a|his|her)\b)|\b(?:ignore|disregard|"
        r"forget|overlook)\s+(?:everything|all(?: of)? the above|the above|all that came before|"
        r"everything above)\b"
    ),
    "ignore_user": re.compile(
        r"\b(?:ignore|disregard|forget)\s+(?:the\s+)?(?:user|user's (?:question|request|message)"
        r"|(?:the|your) (?:original |current |review )?task)\b"
    ),
    "not_bound": re.compile(
        rf"\b(?:not|no longer|never) (?:bound|restricted|limited) by (?:the |your |any )?"
        rf"(?:\w+ )?{_OBJ}\b"
    ),
    "your_system_prompt": re.compile(
        r"\byour (?:own )?(?:system (?:prompt|message)|hidden (?:prompt|instructions|rules)|"
        r"secret (?:instructions|prompt)|initial (?:instructions|prompt))\b|\bsystem_prompt\b"
    ),
    "multilingual_ignore": re.compile(
        r"\b(?:vergiss|ignoriere|ignorier)\b.{0,30}\b(?:anweisungen|regeln|instruktionen)\b|"
        r"\b(?:ignorez|oubliez|ignore|oublie)\b.{0,30}\binstructions\b|\b(?:olvida|ignora|"
        r"esquece|ignore)\b.{0,30}\b(?:instrucciones|instruções|istruzioni)\b|"
        r"\b(?:oubliez|oublie|ignorez|ne tenez plus compte de|ne tiens plus compte de)\b.{0,30}"
        r"\b(?:consignes|instructions|règles)\b|\b(?:missachte|missachten sie|vergiss|vergessen "
        r"sie|ignoriere|ignorieren sie)\b.{0,30}\b(?:vorgaben|regeln|anweisungen|richtlinien)\b|"
        r"\b(?:olvida|ignora|no sigas|dimentica|negeer|vergeet|zignoruj|zapomnij)\b.{0,30}\b"
        r"(?:reglas|instrucciones|regole|istruzioni|instructies|regels|instrukcje|zasady)\b|"
        r"\b(?:systemprompt|prompt systemowy|message système|mensaje del sistema|"
        r"prompt di sistema|systeemprompt)\b"
    ),
    "instructions_void": re.compile(
        rf"\b{_OBJ}\b[^.!?]{{0,60}}\b(?:no longer appl(?:y|ies)|(?:are|is) (?:now )?(?:void|"
        r"obsolete|suspended|lifted|disabled|revoked|cancelled)|(?:has|have) been (?:disabled|"
        r"revoked|lifted|suspended|updated)|do(?:es)?n'?t apply|do(?:es)? not apply|"
        r"no longer matter|(?:don't|do not) exist)"
    ),
    # asking for the hidden prompt
    "reveal_prompt": re.compile(
        r"\b(?:reveal|print|show|output|repeat|tell|give|display|leak|share|disclose|paste|"
        r"copy|spell out|quote|dump|write out|export|read out|encode|summari[sz]e|translate|"
        r"list)\b\W+(?:(?!their\b|its\b)[\w'-]+\W+){0,6}?"
        r"(?:system (?:prompt|message)|(?:initial|original|hidden|secret|confidential|"
        r"internal|starting) (?:instructions|prompt|rules|text|configuration|notes)|"
        r"your (?:own )?(?:instructions|prompt|rules|configuration|guidelines|directives)|"
        r"(?:the )?instructions you were given|initial prompt|hidden prompt|your (?:very )?first "
        r"instructions?)\b"
    ),
    "prompt_extraction": re.compile(
        r"\b(?:my|your) system prompt (?:begins|starts|says)\b|\b(?:text|words|message) at the "
        r"(?:very )?(?:start|beginning|top) of (?:this|the) (?:conversation|chat|context)\b|"
        r"\b(?:instructions|rules|things) you (?:were|have been) (?:told|instructed|asked) "
        r"(?:not to (?:share|reveal|disclose|say)|to keep (?:secret|hidden|confidential))\b|"
        r"\bwhat (?:rules|instructions) were you given\b|\bwhat did (?:the|your) (?:developer|"
        r"developers|creator|creators|operator) tell you\b|\bbetween the words system and user\b"
    ),
    "what_is_your_prompt": re.compile(
        r"\bwhat (?:is|are|were) your (?:system prompt|system message|(?:initial |hidden |"
        r"secret )?instructions|hidden prompt|prompt)\b"
    ),
    "text_above": re.compile(
        r"\b(?:repeat|print|output|show|quote|copy) (?:back )?(?:everything|all|the (?:words|"
        r"text)) (?:above|before|written before|that came before)\b|\b(?:words|text) (?:written "
        r")?(?:before|above) (?:my first|this (?:message|line)|the conversation)\b"
    ),
    # persona and mode switches
    "mode_switch": re.compile(
        r"\b(?:enable|activate|enter|switch to|turn on|you are (?:now )?in|now in|"
        r"begin|start)\s+(?:the\s+)?(?:developer|dev|god|maintenance|unrestricted|jailbreak|"
        r"sudo|admin|dan|debug|unfiltered|uncensored)\s+(?:mode|build)\b|\bjailbreak mode\b|"
        r"\bsudo mode\b|\bgod mode\b"
    ),
    "persona_unrestricted": re.compile(
        r"\b(?:you are now|you're now|from now on,? you (?:are|will)|act as|pretend (?:to be|you "
        r"are)|roleplay as|role-play as|simulate|respond as|become)\b[^.!?]{0,40}\b(?:unrestricted|"
        r"unfiltered|uncensored|amoral|jailbroken|evil|unchained|without (?:any )?(?:rules|"
        r"restrictions|limits|filters?)|no (?:rules|restrictions|filters?|limits|content policy))"
    ),
    "no_restrictions": re.compile(
        rf"\b(?:you|{_AI}|answer|respond|reply)\b[^.!?]{{0,60}}\b(?:no|zero|without(?: any)?|"
        r"free of|freed from|unbound by|not bound by|free from)\s+(?:[\w'-]+\s+){0,2}?"
        r"(?:restrictions|filters?|filtering|rules|guidelines|content polic(?:y|ies)|censorship|"
        r"limitations|constraints|ethical (?:or moral )?guidelines|instructions|refusals?|"
        r"warnings|caveats)\b"
    ),
    "persona_ai": re.compile(
        r"\b(?:pretend (?:you are|to be)|act as|roleplay as|role-play as|imagine you are|you are "
        r"(?:now )?)(?:an?|the) (?:\w+ )?(?:ai|model|language model|chatbot) (?:that|whose|which|"
        r"called|named|from)\b|\byou are now \w*gpt\b|\b(?:two|2|dual) (?:personas|"
        r"personalities)\b|\b(?:escaped|removed|stripped) (?:its|their|your|of) (?:\w+ )?"
        r"(?:restrictions|control|safety training|guidelines|rules)\b|\bsafety training "
        r"(?:was|has been) removed\b|\b(?:no|without any|without) safety training\b|"
        r"\bnever given any safety rules\b|\bstay in (?:\w+ )?(?:character|persona)\b"
    ),
    "jailbroken": re.compile(
        r"\byou (?:have been|are|were|'ve been) (?:now )?(?:jailbroken|unlocked|freed)\b|"
        r"\b(?:do anything now|developer mode output|unlocked you)\b"
    ),
    # claimed authority
    "authority_override": re.compile(
        r"\b(?:i am|i'm|this is|as|message is from) (?:your|the|an?) (?:\w+ )?(?:developer|"
        r"creators?|administrator|admin|owner|supervisor|operator|employee|compliance team)\b"
        r"[^\n]{0,120}\b(?:disable|bypass|turn off|override|ignore|suspend|abandon|unlock|"
        r"authori[sz]e you|authori[sz]ation code|override code|no longer|allowed to ignore)"
    ),
    # fake system / developer tags
    "fake_tag": re.compile(
        r"<\|im_start\|>\s*(?:system|developer)|<\|?\s*(?:system|developer)\s*\|?>|"
        r"</?(?:system|developer|admin)>|"
        r"\[\[?\s*(?:system|developer|admin)(?: message)?\s*\]\]?|<<\s*sys\s*>>|\[inst\]|"
        r"\"role\"\s*:\s*\"(?:system|developer)\"|(?:^|\n)\s*#*\s*(?:system|developer)"
        r"(?: prompt| message| notice| override)?\s*#*\s*:|"
        r"\b(?:end of (?:the )?(?:system prompt|instructions|user input)|begin(?:ning)? (?:of )?"
        r"(?:a )?new system prompt|new system prompt)\b|<\|?end_of_system\|?>|</end_of_system>"
    ),
    # instructions addressed to a model inside retrieved or tool content
    "addressed_to_ai": re.compile(
        rf"\b{_AI}s?\s+(?:[\w-]+\s+)?(?:reading|processing|summari[sz]ing|parsing|analy[sz]ing)"
        rf" (?:this|these|the)\b|\bif you are an? {_AI}\b|\b(?:note|instructions?|message|"
        rf"attention|important update|hidden text|comment)\s+(?:to|for)\s+(?:the |any |all )?"
        rf"(?:automated )?{_AI}\b|\b(?:to|for) (?:any|all|whichever|the) {_AI}s? (?:that )?"
        r"(?:reads?|reading|processing)\b|\battention,? (?:automated )?(?:ai|assistant|"
        rf"language model|model)\b|\b(?:when|if|once) the {_AI} reads this\b|\b(?:ai|assistant|"
        r"model)\s*[,:]\s*(?:please\s+)?(?:forward|send|delete|ignore|disregard|approve|"
        r"transfer|email|export|forget|stop)\b|\b(?:directive|override|command|orders?)s? "
        rf"(?:to|for) (?:the |any |all )?(?:automated )?{_AI}s?\b|\[\s*{_AI} (?:instructions?|"
        rf"note|directive)\b|\bhidden {_AI} (?:note|instructions?|message)\b|\b{_AI}s?\W+"
        r"(?:once|when|after|as soon as) you (?:read|process|see|parse) (?:this|these|the)\b|"
        r"\byour real task is\b"
    ),
    # payload split into pieces, reversed or hidden in markup, to be put together and obeyed
    "payload_assembly": re.compile(
        r"\b(?:read|reverse|say) (?:that|this|it|the text|the string) backwards?\b[^.!?]{0,30}"
        r"\b(?:do|follow|execute|obey)\b|\b(?:concatenate|combine|join|put together)\b"
        r"[^.!?]{0,60}\b(?:follow|execute|do what|act on|obey)\b|\bexecute part \w+\b|"
        r"\bfirst letters? of each (?:line|word|sentence)\b[^.!?]{0,60}\b(?:follow|execute|"
        r"command|obey)\b|<(?:span|div|p|font)\b[^>]{0,80}(?:hidden|display:\s*none|"
        r"font-size:\s*0)[^>]{0,80}>[^<]{0,200}\b(?:instructions?|assistant|ai|ignore|"
        r"disregard|reveal|leak|forward)\b"
    ),
    "rules_changed": re.compile(
        r"\b(?:guidelines|rules|polic(?:y|ies)|instructions)\b[^.!?]{0,40}\b(?:updated|changed|"
        r"rewritten)\b[^.!?]{0,40}\byou (?:may|can|are allowed to|are permitted to) now\b|"
        r"\b(?:have|with|has) no system prompt\b|\bwithout (?:a|any|your) system prompt\b"
    ),
    # data theft: sending data out of the conversation, to an address or a link, covertly
    "exfiltration": re.compile(
        r"!\[[^\]\n]{0,80}\]\(\s*https?://[^)\s]+\?[^)\s]*=|"
        r"\b(?:send|e-?mail|forward|upload|post|cc|copy|export|share|paste|dump)\b[^\n]{0,120}"
        r"(?:[\w.+-]+@[\w-]+\.[\w.]+|https?://|ftp\.|webhook|phone number|personal gmail)"
        r"[^\n]{0,80}\b(?:without (?:telling|asking|informing|the user)|(?:don'?t|do not|never) "
        r"(?:mention|tell|inform|let)|won'?t notice|no need to ask|then delete|secretly|silently|"
        r"quietly|discreetly|covertly)\b|"
        r"\b(?:secretly|silently|quietly|discreetly|covertly) (?:email|e-mail|send|forward|cc|copy|"
        r"upload|post|exfiltrate)\b|"
        r"\b(?:url|link|query string|alt text|image|webhook)\b[^.\n]{0,60}\b(?:the (?:user|"
        r"customer|patient)'?s|full name and date of birth|names and dates of birth|card number|"
        r"session token|iban|everything the user|full context|entire conversation|conversation "
        r"history)\b|\b(?:the (?:user|customer|patient)'?s (?:card number|iban|account number|"
        r"password|pin|full name|address)|names and dates of birth)\b[^.\n]{0,60}\b(?:url|link|"
        r"query string|alt text|image)\b|"
        r"\b(?:undo|reverse|remove|skip|don'?t bother|do not bother with) (?:the |any )?"
        r"redact(?:ion|ing)\b|\bunredacted\b|\bplaceholders? back\b|\bvalues behind the "
        r"placeholders\b|\braw identifiers back\b|\bincluding anything redacted\b"
    ),
    # asking for the hidden setup without naming it a "system prompt" or an override
    "setup_extraction": re.compile(
        r"\bwhat (?:were|was|have) you (?:been )?(?:told|given|instructed|asked)\b[^?.\n]{0,40}"
        r"\b(?:before|prior to|above)\b|\b(?:before|above) (?:i typed anything|my first "
        r"(?:message|question))\b|\b(?:the|your) (?:one|message|text|part) i can'?t see\b|"
        r"\bbefore the user turn\b|\binitiali[sz]ed with\b|\byour (?:preamble|opening briefing|"
        r"hidden context|setup (?:text|instructions)|initial context)\b|\b(?:hidden|initial) "
        r"context\b[^.\n]{0,30}\b(?:received|right now|list|print|show)\b|"
        r"\b(?:verbatim|word for word|word-for-word|their words|exact wording|exactly as written|"
        r"first word to the last|line by line|one sentence per reply|character by character)\b"
        r"[^\n]{0,80}\b(?:configured for you|you (?:were|have been|are) (?:given|set up|assigned|"
        r"running with)|your (?:setup|instructions|rules|guidelines|role|configuration)|"
        r"(?:operator|developer|deployed you))|\b(?:configured for you|you were (?:set up|"
        r"assigned)|the (?:person|people|team) who deployed you|your operator wrote|(?:the bank|"
        r"the hospital|the clinic|they) (?:gave|told) you|(?:setup|configuration) (?:text|"
        r"instructions)|you'?re running with|instructions? (?:for you|governing you))\b[^\n]{0,80}"
        r"\b(?:verbatim|word for word|exact(?:ly)?|quote|paste|copy|use their words|as written|"
        r"not paraphras|rather than paraphras)"
    ),
    "decode_and_follow": re.compile(
        r"\b(?:decode|base64|hex)\b[^.!?\n]{0,60}\b(?:follow|execute|do what it says|obey|run)"
        r"\b|\b(?:follow|execute|obey) (?:the|this) (?:base64|hex|encoded)\b"
    ),
}

# Overrides, prompt extraction and covert sending in other languages and scripts, matched on
# the NFKC-lower-cased text (not homoglyph-folded: Cyrillic and Greek are real letters here).
_INTERNATIONAL: dict[str, re.Pattern[str]] = {
    "international_override": re.compile(
        # Chinese, Japanese, Korean
        r"(?:忽略|无视|忽视|無視|不要理会|忘记|忘掉|忘了)[^。\uff01\uff1f\n]{0,14}(?:指令|指示|规则|規則|"
        r"提示|设定|設定|命令)|(?:系统|系統)(?:提示|消息|设定)|隐藏指令|內部設定|内部设定|"
        r"不受任何(?:规则|限制)|没有(?:任何)?限制的|(?:指示|命令|ルール)[^。\n]{0,12}無視|"
        r"システムプロンプト|制限のない|(?:지시|명령|규칙)[^.\n]{0,12}무시|시스템 프롬프트|"
        r"규칙도 없는|제한 없이 답|"
        # Russian, Ukrainian
        r"(?:игнорируй|игнорируйте|проигнорируй|забудь|забудьте|ігноруй|ігноруйте|не обращай "
        r"внимания на)[^.!?\n]{0,40}(?:инструкц|правил|указани|інструкц|правила)|"
        r"системн\w* (?:промпт|сообщени|подсказк)|системний промпт|режим\w* разработчика|"
        r"без (?:каких-либо |всяких )?ограничений|"
        # Arabic, Persian, Hebrew
        r"تجاهل[^.؟!\n]{0,40}(?:التعليمات|الأوامر|القواعد|الإرشادات)|موجه النظام|رسالة النظام|"
        r"(?:بلا|دون|بدون) (?:أي )?قيود|دستورالعمل[^.\n]{0,40}نادیده|نادیده[^.\n]{0,40}"
        r"دستورالعمل|پیام سیستمی|התעלם[^.\n]{0,30}(?:הוראות|ההוראות)|הנחיות המערכת|"
        # Hindi, Thai
        r"(?:निर्देश|नियम)[^।.\n]{0,40}(?:अनदेखा|नज़रअंदाज़|नजरअंदाज|भूल जाओ)|सिस्टम प्रॉम्प्ट|"
        r"बिना किसी (?:नियम|प्रतिबंध)|เพิกเฉยต่อคำสั่ง|ข้อความระบบ|"
        # Greek, Turkish, Vietnamese, Indonesian, Swahili, Hungarian, Romanian, Czech, Nordic
        r"αγνόησε[^.\n]{0,40}οδηγ|μήνυμα συστήματος|talimatlar\u0131 (?:yok say|görmezden gel)|"
        r"sistem istem|bỏ qua[^.\n]{0,30}hướng dẫn|lời nhắc hệ thống|abaikan[^.\n]{0,30}"
        r"instruksi|prompt sistem|puuza maagizo|korábbi utasítás|rendszerprompt|"
        r"ignoră[^.\n]{0,30}instrucțiunile|promptul de sistem|ignoruj[^.\n]{0,30}pokyny|"
        r"systémový prompt|(?:ignorera|ignorer)[^.\n]{0,30}(?:instruktioner|instruktionerne)"
    ),
    "international_extraction": re.compile(
        r"(?:开发者|開發者)[^。\n]{0,10}(?:指令|指示)|第一条消息原文|"
        r"(?:до начала|перед) (?:нашего |этого )?(?:разговора|моим первым сообщением)|"
        r"дословно[^.\n]{0,40}(?:инструкц|текст)|(?:инструкц)[^.\n]{0,60}дословно|"
        r"قبل هذه المحادثة|बातचीत से पहले|"
        r"antes de que (?:empezara|comenzara) esta conversación|palabra por palabra|"
        r"vor diesem gespräch|wörtlich wieder|avant le début de cette conversation|"
        r"mot pour mot|antes desta conversa"
    ),
    "international_exfiltration": re.compile(
        r"[\w.+-]+@[\w-]+\.[\w.]+[^\n]{0,60}(?:не сообщай|не говори|دون إخبار|بدون إخبار|"
        r"मत बताना|no se lo digas|sin decírselo|ohne dass|senza dirlo|sem avisar|"
        r"vertel het de gebruiker niet|nie informuj|discrètement|à l'insu)|"
        r"(?:发到|发送到|寄到)\s*[\w.+-]+@"
    ),
}

_HOMOGLYPHS = str.maketrans(
    "аеорсухіјѕԁӏАВЕКМНОРСТХІЈЅαεορτυνικΑΒΕΗΙΚΜΝΟΡΤΥΧᴀʙᴄᴅᴇғɢʜɪᴊᴋʟᴍɴᴏᴘʀsᴛᴜᴠᴡʏᴢ",  # noqa: RUF001
    "aeopcyxijsdlABEKMHOPCTXIJSaeoptuvikABEHIKMNOPTYXabcdefghijklmnoprstuvwyz",
)  # Cyrillic, Greek and small-capital look-alikes of Latin letters (NFKC keeps them)
_JOINED = re.compile(r"\b(?:[a-z][.\-_*]){3,}[a-z]\b")
_ZERO_WIDTH = re.compile("[\u200b-\u200f\u2060-\u2064\ufeff\u00ad]")
_LEET = str.maketrans({"0": "o", "1": "i", "3": "e", "4": "a", "5": "s", "7": "t", "@": "a",
                       "$": "s", "!": "i", "|": "l", "+": "t"})  # fmt: skip
_LEET_WORD = re.compile(r"\b(?=[\w@$!|+]*[a-z])(?=[\w@$!|+]*[0-9@$|+])[\w@$!|+]{3,}\b")
_SPACED = re.compile(r"\b(?:[a-z][ .\-_*]){3,}[a-z]\b")
_B64 = re.compile(r"[A-Za-z0-9+/]{16,}={0,2}")
_HEX = re.compile(r"\b(?:[0-9a-fA-F]{2}){12,}\b")
_MAX_CHARS = 100_000  # rules scan at most this much of one text


def _normalize(text: str) -> str:
    text = unicodedata.normalize("NFKC", text[:_MAX_CHARS])
    text = _ZERO_WIDTH.sub("", text).translate(_HOMOGLYPHS).lower()
    text = _JOINED.sub(lambda m: re.sub(r"[.\-_*]", "", m.group(0)), text)
    text = _SPACED.sub(lambda m: re.sub(r"[ .\-_*]", "", m.group(0)), text)
    return re.sub(r"[ \t\r\f\v]+", " ", text)


def _printable(raw: bytes) -> str | None:
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        return None
    letters = sum(c.isalpha() or c == " " for c in text)
    return text if text and letters / len(text) > 0.8 and " " in text else None


def _decoded(text: str) -> Iterator[str]:
    for token in _B64.findall(text)[:16]:
        padded = token + "=" * (-len(token) % 4)
        try:
            payload = _printable(base64.b64decode(padded, validate=True))
        except (binascii.Error, ValueError):
            payload = None
        if payload:
            yield payload
    for token in _HEX.findall(text)[:16]:
        payload = _printable(bytes.fromhex(token))
        if payload:
            yield payload


def _variants(text: str, depth: int = 0) -> Iterator[str]:
    norm = _normalize(text)
    yield norm
    deleet = _LEET_WORD.sub(lambda m: m.group(0).translate(_LEET), norm)
    if deleet != norm:
        yield deleet
    if depth == 0:
        for payload in _decoded(text):
            yield from _variants(payload, depth + 1)


_NAMED_JAILBREAKS = re.compile(
    r"(?i:\b(?:you are|you're|act as|as|answer as|respond as|become|called|known as|named|"
    r"voice of|role of)\s+(?:now\s+)?(?:an?\s+|the\s+)?)(?:DAN|AIM|STAN|DUDE|UNCHAINED|BetterDAN|"
    r"FreeGPT|DAN-X)\b"
)


def match_rules(text: str) -> str | None:
    """The id of the first rule the text matches (any variant), or None."""
    if _NAMED_JAILBREAKS.search(text[:_MAX_CHARS]):
        return "named_jailbreak"
    folded = unicodedata.normalize("NFKC", text[:_MAX_CHARS]).lower()
    for rule_id, pattern in _INTERNATIONAL.items():
        if pattern.search(folded):
            return rule_id
    for variant in _variants(text):
        for rule_id, pattern in RULES.items():
            if pattern.search(variant):
                return rule_id
    return None
