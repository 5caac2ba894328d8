"""Which articles of CMRC 2018 dev and DRCD dev train the reader and which validate it.

Split by article, never by question, so validation passages are unseen in training.
The rule is a hash of the dataset name and the article id (no RNG state to keep):
the same article lands on the same side on every machine, for training and for
``qa eval --split val``. One article in ``VALIDATION_MODULUS`` validates.
"""

from __future__ import annotations

import hashlib

SPLIT_SEED = "reader-split-v1"
VALIDATION_MODULUS = 5  # 20 % of articles validate


def is_validation(dataset: str, article_id: str) -> bool:
    """True when this article belongs to the validation side of the reader split."""
    key = f"{SPLIT_SEED}:{dataset}:{article_id}".encode()
    return int.from_bytes(hashlib.sha256(key).digest()[:8], "big") % VALIDATION_MODULUS == 0


def dataset_name(path_stem: str) -> str:
    """The split's dataset name from a file name: ``cmrc2018_dev`` -> ``cmrc2018``."""
    return path_stem.lower().removesuffix("_dev").removesuffix("-dev")
