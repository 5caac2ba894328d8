"""Errors a user can cause, with a message in Chinese and English.

The CLI and the UI show ``str(error)`` and never a traceback.
"""

from __future__ import annotations


class QAError(Exception):
    """A user-facing error: ``zh`` and ``en`` say the same thing in two languages."""

    def __init__(self, zh: str, en: str) -> None:
        self.zh = zh
        self.en = en
        super().__init__(f"{zh}\n{en}")
