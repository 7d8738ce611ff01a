import pytest

from storefront.catalog.options import (
    InvalidOptionError,
    OptionSpec,
    OptionSpecError,
    normalise,
    parse_notation,
    to_notation,
)

SIZE = OptionSpec("size", True, choices=("S", "M", "L", "XL"))
ENGRAVING = OptionSpec("engraving", False, max_length=5)


def test_the_csv_notation_expresses_required_choices_and_limited_free_text():
    specs = parse_notation("size:S|M|L|XL!; engraving:text(40)")
    assert specs == (SIZE, OptionSpec("engraving", False, max_length=40))
    assert parse_notation(to_notation(specs)) == specs


@pytest.mark.parametrize("bad", ["Size:S", "size", "size:", "size:S||M", "a:x;a:y", "t:text(0)"])
def test_malformed_notation_is_refused(bad):
    with pytest.raises(OptionSpecError):
        parse_notation(bad)


def test_choices_match_exactly_and_required_options_must_be_given():
    assert normalise((SIZE,), {"size": "M"}) == {"size": "M"}
    for given in ({"size": "m"}, {"size": " M"}, {}, {"size": 1}):
        with pytest.raises(InvalidOptionError):
            normalise((SIZE,), given)


def test_free_text_is_nfc_normalised_and_trimmed_and_empty_means_absent():
    assert normalise((ENGRAVING,), {"engraving": "  Cafe\u0301 "}) == {"engraving": "Café"}
    assert normalise((ENGRAVING,), {"engraving": "   "}) == {}
    with pytest.raises(InvalidOptionError, match="at most 5"):
        normalise((ENGRAVING,), {"engraving": "toolong"})


def test_unknown_option_names_are_refused():
    with pytest.raises(InvalidOptionError, match="no option"):
        normalise((), {"colour": "red"})
