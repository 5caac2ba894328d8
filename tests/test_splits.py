"""The reader's train/validation split: by article, fixed, about one in five."""

from __future__ import annotations

from qa.splits import VALIDATION_MODULUS, dataset_name, is_validation


def test_split_is_a_fixed_function_of_the_article() -> None:
    assert [is_validation("cmrc2018", f"DEV_{i}") for i in range(50)] == [
        is_validation("cmrc2018", f"DEV_{i}") for i in range(50)
    ]


def test_about_one_article_in_five_validates() -> None:
    share = sum(is_validation("drcd", str(i)) for i in range(5000)) / 5000
    assert abs(share - 1 / VALIDATION_MODULUS) < 0.02


def test_dataset_names_from_file_names() -> None:
    assert dataset_name("cmrc2018_dev") == "cmrc2018" and dataset_name("drcd_dev") == "drcd"
