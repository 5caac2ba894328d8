"""Write the articles the other-document dialogue sets are asked over, from the reader's
validation side of CMRC 2018 dev and DRCD dev (``qa.splits``): never trained on.

    python eval/make_docs_corpus.py [--out eval/dialogues_docs] [--ids cmrc2018:DEV_10,drcd:1149 ...]

One ``.txt`` per article: its title, then its paragraphs, as the benchmark has them
(CMRC in simplified, DRCD mostly traditional). The default list is the corpus of
``eval/dialogues_docs.jsonl``; people, places, organisations, events and numbers.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from qa.splits import is_validation  # noqa: E402

BENCHMARKS = ROOT.parent / "shared" / "benchmarks"
FILES = {"cmrc2018": "cmrc2018_dev.json", "drcd": "drcd_dev.json"}
DEFAULT_IDS = [
    "cmrc2018:DEV_10",
    "cmrc2018:DEV_14",
    "cmrc2018:DEV_72",
    "cmrc2018:DEV_75",
    "cmrc2018:DEV_76",
    "cmrc2018:DEV_118",
    "cmrc2018:DEV_194",
    "cmrc2018:DEV_104",
    "cmrc2018:DEV_69",
    "cmrc2018:DEV_163",
    "drcd:1149",
    "drcd:3297",
    "drcd:4896",
    "drcd:4967",
    "drcd:3344",
    "drcd:3436",
    "drcd:3211",
    "drcd:3384",
    "drcd:2493",
    "drcd:3380",
]


def article_text(article: dict) -> str:
    paragraphs = [p["context"].strip() for p in article["paragraphs"]]
    return article["title"].strip() + "\n\n" + "\n\n".join(paragraphs) + "\n"


def file_name(title: str) -> str:
    return re.sub(r"[\\/:*?\"<>|\s()（）]+", "_", title).strip("_") + ".txt"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=ROOT / "eval" / "dialogues_docs")
    parser.add_argument("--ids", nargs="*", default=DEFAULT_IDS, help="dataset:article-id, validation side only")
    args = parser.parse_args()
    wanted: dict[str, list[str]] = {}
    for key in args.ids:
        name, article_id = key.split(":", 1)
        if not is_validation(name, article_id):
            raise SystemExit(f"{key} is on the reader's training side")
        wanted.setdefault(name, []).append(article_id)
    args.out.mkdir(parents=True, exist_ok=True)
    for name, ids in wanted.items():
        data = json.loads((BENCHMARKS / FILES[name]).read_text(encoding="utf-8-sig"))["data"]
        by_id = {str(a.get("id") or a.get("title")): a for a in data}
        for article_id in ids:
            article = by_id[article_id]
            (args.out / file_name(article["title"])).write_text(article_text(article), encoding="utf-8")
            print(f"{name}:{article_id} -> {file_name(article['title'])}")


if __name__ == "__main__":
    main()
