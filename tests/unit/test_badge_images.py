"""The badge design (pure): WCAG contrast of every level's ink, the star, the SVG."""
from __future__ import annotations

import math
import xml.etree.ElementTree as ET

import pytest

from achieveup.badges import images
from knowgap.core.errors import NotFound


def test_contrast_matches_the_wcag_reference_values():
    assert images.contrast("#000000", "#ffffff") == pytest.approx(21.0)
    assert images.contrast("#777777", "#ffffff") == pytest.approx(4.48, abs=0.01)
    assert images.contrast("#123456", "#123456") == pytest.approx(1.0)


@pytest.mark.parametrize("level", sorted(images.LEVEL_COLORS))
def test_every_level_is_legible(level):
    design = images.design(level)
    assert images.contrast(design["fill"], design["ink"]) >= 4.5
    other = "#ffffff" if design["ink"] == "#000000" else "#000000"
    assert images.contrast(design["fill"], design["ink"]) >= images.contrast(design["fill"],
                                                                             other)
    assert images.luminance(design["ring"]) < images.luminance(design["fill"])


def test_star_has_five_points_at_the_outer_radius():
    points = images.star(0, 0, 10, 4)
    radii = [math.hypot(x, y) for x, y in points]
    assert len(points) == 10
    assert radii[0::2] == pytest.approx([10] * 5) and radii[1::2] == pytest.approx([4] * 5)
    assert points[0] == pytest.approx((0, -10))                 # first point up


def test_svg_is_well_formed_and_labelled():
    root = ET.fromstring(images.svg("expert"))
    assert root.get("role") == "img" and root.get("aria-label") == "Expert level"
    ns = "{http://www.w3.org/2000/svg}"
    assert root.find(f"{ns}text").text == "EXPERT"
    with pytest.raises(NotFound):
        images.svg("gold")
