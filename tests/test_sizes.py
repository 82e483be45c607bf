"""Aspect-ratio and megapixel presets, and the per-field message for a size the model refuses."""
import pytest

from studio import sizes
from wiro import spec


@pytest.mark.parametrize("ratio", list(sizes.RATIOS))
@pytest.mark.parametrize("mp", sizes.MEGAPIXELS)
def test_every_preset_is_a_size_the_model_accepts(ratio, mp):
    width, height = sizes.preset(ratio, mp, None)
    for field, value in ((spec.WIDTH, width), (spec.HEIGHT, height)):
        assert sizes.field_problem(field, value) == ""
        assert value % 16 == 0 and 64 <= value <= 2048
    rw, rh = sizes.RATIOS[ratio]
    assert width / height == pytest.approx(rw / rh, rel=0.05)


def test_presets_people_expect():
    assert sizes.preset("1:1", 1, None) == (1024, 1024)
    assert sizes.preset("16:9", 1, None) == (1360, 768)
    assert sizes.preset("9:16", 1, None) == (768, 1360)
    assert sizes.preset("16:9", 4, None) == (2048, 1152)  # scaled down to fit 2048


def test_match_image_1_keeps_its_shape_or_leaves_it_to_wiro():
    assert sizes.preset(sizes.MATCH, 1, (1500, 1000)) == (1248, 832)
    assert sizes.preset(sizes.MATCH, 1, None) == (0, 0)  # a URL: Wiro matches it


@pytest.mark.parametrize("raw, expected", [
    (1000, "Use a multiple of 16: 992 or 1008."),
    (1024.5, "Use a whole number, e.g. 1024 or 1025."),
    (4096, "Use 64 to 2048 (or 0 to match image 1); 4096 is out of range."),
    (None, "Enter a whole number from 64 to 2048."),
    ("abc", "'abc' is not a number; enter a whole number."),
    (0, ""), (1024, ""),
])
def test_a_refused_size_says_what_to_change(raw, expected):
    assert sizes.field_problem(spec.WIDTH, raw) == expected
