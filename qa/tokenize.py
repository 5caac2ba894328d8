"""The Chinese BM25 splitter: jieba words of simplified text, without stop words.

It is a plain callable (text -> tokens), so the BM25 index never knows which segmenter
is plugged in.  Search-mode segmentation also emits the sub-words of long words
(零碳园区 -> 零碳, 园区, 零碳园区), so a question that words things differently still
shares tokens with the passage.
"""

from __future__ import annotations

import logging
import re
from functools import lru_cache

from qa.normalize import to_simplified

_WORD = re.compile(r"[\w%.]+", re.UNICODE)
_STOPWORD_LINES = (
    "的 了 是 在 和 与 及 或 等 也 都 就 而 被 把 对 从 向 于 以 之 其 这 那 该 此 有 为 将 并 吗",
    "呢 啊 吧 呀 么 什么 哪些 哪个 哪 多少 几 几个 怎么 怎样 如何 为什么 为何 是否 是不是 个 请问 一下 告诉",
    "我 你 他 她 它 我们 你们 他们 请 能 会 可以 要 想 知道 说 讲 提到 文章 里 中",
    "到底 究竟 意思 大概 大约 大致 一共 总共 现在 啥 咋 呗 嘛 哦 呃 这个 那个 这些 那些",
    "什么样 怎么样 哪里 哪儿 具体 分别 有没有 有没 能不能 会不会 是不是 说白了 所谓 一下子",
    "哪家 哪位 哪种 哪类 哪一 哪一年 哪年 哪天 哪月 几年 几月 什么时候 时候 多久 多大 多长 已经",
    "a an the of to in on for and or is are was were be what which",
    "who when where why how does do did many much",
)
STOPWORDS = frozenset(w for line in _STOPWORD_LINES for w in line.split())


@lru_cache(maxsize=1)
def _jieba():  # type: ignore[no-untyped-def]
    import jieba

    jieba.setLogLevel(logging.WARNING)
    jieba.initialize()
    return jieba


def tokenize(text: str) -> list[str]:
    """Tokens for BM25: lower-cased jieba search-mode words, punctuation and stop words removed."""
    simple = to_simplified(text).lower()
    words = _jieba().lcut_for_search(simple)
    return [w for w in (w.strip() for w in words) if w and _WORD.fullmatch(w) and w not in STOPWORDS]
