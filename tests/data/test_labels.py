"""The file-name rules (docs/data.md, Dataset format), each with its exact reason."""

from __future__ import annotations

import pytest

from prettymeter.labels import LabelError, Labels, format_name, parse_name


def test_a_well_formed_name_gives_its_labels() -> None:
    assert parse_name("cdcbdbc019944d589e346a67d5431f89_w_unknown_8.7_100.png") == Labels(
        "cdcbdbc019944d589e346a67d5431f89", "w", "unknown", 8.7, 100, ".png"
    )


def test_upper_case_extensions_and_the_edges_of_the_rate_are_accepted() -> None:
    assert parse_name("a_m_ru_0_1.JPG").rate == 0.0
    assert parse_name("a_m_ru_10.0_1.jpeg").rate == 10.0
    assert parse_name("a_m_ru_10_3.webp").voices == 3


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("a_w_ru_11.2_100.jpg", "rate 11.2 is above 10.0"),
        ("a_w_ru_-0.5_100.jpg", "rate -0.5 is below 0.0"),
        ("a_w_ru_nan_100.jpg", "rate 'nan' is not a number"),
        ("a_w_ru_8,7_100.jpg", "rate '8,7' is not a number"),
        ("a_x_ru_5.0_100.jpg", "gender 'x' is not m or w"),
        ("a_W_ru_5.0_100.jpg", "gender 'W' is not m or w"),
        ("a_w_5.0_100.jpg", "5 fields expected, found 4"),
        ("a_b_w_ru_5.0_100.jpg", "5 fields expected, found 6"),
        ("_w_ru_5.0_100.jpg", "uuid is empty"),
        ("a_w__5.0_100.jpg", "country is empty"),
        ("a_w_ru_5.0_0.jpg", "voices '0' is not a positive integer"),
        ("a_w_ru_5.0_-3.jpg", "voices '-3' is not a positive integer"),
        ("a_w_ru_5.0_1.5.jpg", "voices '1.5' is not a positive integer"),
        ("a_w_ru_5.0_many.jpg", "voices 'many' is not a positive integer"),
        (".DS_Store", "hidden file"),
        ("._a_w_ru_5.0_100.jpg", "hidden file"),
        ("a_w_ru_5.0_100", "no file extension; expected an image such as .jpg or .png"),
    ],
)
def test_each_bad_name_rule_is_reported_with_its_reason(name: str, reason: str) -> None:
    with pytest.raises(LabelError) as caught:
        parse_name(name)
    assert caught.value.reason == reason
    assert reason in str(caught.value)


def test_a_non_image_extension_is_reported() -> None:
    with pytest.raises(LabelError) as caught:
        parse_name("README.md")
    assert caught.value.reason.startswith("extension '.md' is not an image type")


def test_format_name_round_trips_through_the_parser() -> None:
    name = format_name("abc", "m", "unknown", 7.25, 41, ".jpg")
    assert name == "abc_m_unknown_7.2_41.jpg"
    assert parse_name(name) == Labels("abc", "m", "unknown", 7.2, 41, ".jpg")
