"""Badge images: one design per level, drawn as SVG and as PNG, and baked PNGs.

One description of the design (a medal: a ring in a darker shade of the level's colour, the
level's colour inside, a star and the level's name) feeds both renderers, so the SVG that the
BadgeClass names and the PNG that pages, link previews and badge wallets use look the same.
The ink (star and name) is black or white, whichever contrasts more with the level's colour
(WCAG 2 contrast ratio, at least 4.5:1 for every level; checked by the tests).

The PNG is drawn with Pillow (supersampled 3x, then downsized, for smooth edges) with Pillow's
own bundled font, once per level and process. Baking (Open Badges 2.0 and 3.0 "Baking"
specifications) adds one uncompressed ``iTXt`` chunk before ``IEND``: keyword ``openbadges``
with the hosted assertion's URL (OB 2.0), or ``openbadgecredential`` with the signed VC-JWT
(OB 3.0). The chunk is written by openbadgeslib's baker, whose extractor badge wallets and our
tests read it back with.
"""
from __future__ import annotations

import functools
import io
import math

from openbadgeslib import baking
from PIL import Image, ImageDraw, ImageFont

from knowgap.core.errors import NotFound

#: level -> the level's colour (the design's only variable).
LEVEL_COLORS = {"beginner": "#cd7f32", "intermediate": "#c0c0c0", "advanced": "#ffd700",
                "expert": "#4b0082"}
ICON_LEVEL = "expert"                                 # the pages' icon where no badge is shown
OB2_KEYWORD = baking.ITXT_KEYWORD.decode()           # "openbadges"
OB3_KEYWORD = baking.ITXT_KEYWORD_OB3.decode()       # "openbadgecredential"
SIZE = 256                                           # design units (the SVG's viewBox)
PNG_SIZE = 512                                       # pixels of the PNG
_SUPERSAMPLE = 3


# ------------------------------------------------------------------ colour (pure)


def _rgb(color: str) -> tuple[int, int, int]:
    return tuple(int(color[i:i + 2], 16) for i in (1, 3, 5))  # type: ignore[return-value]


def _hex(rgb) -> str:
    return "#" + "".join(f"{max(0, min(255, round(c))):02x}" for c in rgb)


def luminance(color: str) -> float:
    """WCAG 2 relative luminance of a ``#rrggbb`` colour."""
    def channel(c: int) -> float:
        c = c / 255
        return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4
    r, g, b = (channel(c) for c in _rgb(color))
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast(a: str, b: str) -> float:
    """WCAG 2 contrast ratio (1 to 21)."""
    hi, lo = sorted((luminance(a), luminance(b)), reverse=True)
    return (hi + 0.05) / (lo + 0.05)


def ink(fill: str) -> str:
    return "#000000" if contrast(fill, "#000000") >= contrast(fill, "#ffffff") else "#ffffff"


def design(level: str) -> dict:
    """The level's design: fill, ring (a darker shade), ink and label."""
    if level not in LEVEL_COLORS:
        raise NotFound("No such badge image.", error="badge_image_not_found")
    fill = LEVEL_COLORS[level]
    return {"fill": fill, "ring": _hex(c * 0.62 for c in _rgb(fill)), "ink": ink(fill),
            "label": level.upper()}


def star(cx: float, cy: float, outer: float, inner: float) -> list[tuple[float, float]]:
    """The ten corners of a five-pointed star, first point up."""
    points = []
    for i in range(10):
        radius = outer if i % 2 == 0 else inner
        angle = -math.pi / 2 + i * math.pi / 5
        points.append((cx + radius * math.cos(angle), cy + radius * math.sin(angle)))
    return points


# geometry in design units
_RING, _DISC = 124, 106
_STAR = (SIZE / 2, 104, 46, 19)
_LABEL_Y, _LABEL_SIZE = 176, 24


# ------------------------------------------------------------------ renderers


def svg(level: str) -> str:
    d = design(level)
    c = SIZE / 2
    points = " ".join(f"{x:.1f},{y:.1f}" for x, y in star(*_STAR))
    return (f'<svg xmlns="http://www.w3.org/2000/svg" width="{SIZE}" height="{SIZE}" '
            f'viewBox="0 0 {SIZE} {SIZE}" role="img" aria-label="{d["label"].title()} level">'
            f'<circle cx="{c}" cy="{c}" r="{_RING}" fill="{d["ring"]}"/>'
            f'<circle cx="{c}" cy="{c}" r="{_DISC}" fill="{d["fill"]}"/>'
            f'<polygon points="{points}" fill="{d["ink"]}"/>'
            f'<text x="{c}" y="{_LABEL_Y + _LABEL_SIZE * 0.35:.0f}" font-size="{_LABEL_SIZE}" '
            f'font-weight="bold" text-anchor="middle" fill="{d["ink"]}" '
            f'font-family="sans-serif">{d["label"]}</text></svg>')


def _font(size: int):
    try:
        return ImageFont.load_default(size=size)   # Pillow's bundled scalable font
    except (TypeError, OSError):                    # Pillow built without FreeType
        return ImageFont.load_default()


@functools.lru_cache(maxsize=len(LEVEL_COLORS))
def png(level: str) -> bytes:
    """The level's badge as a 512x512 RGBA PNG."""
    d = design(level)
    scale = PNG_SIZE * _SUPERSAMPLE / SIZE
    big = PNG_SIZE * _SUPERSAMPLE
    image = Image.new("RGBA", (big, big), (0, 0, 0, 0))
    draw = ImageDraw.Draw(image)
    c = big / 2
    for radius, color in ((_RING, d["ring"]), (_DISC, d["fill"])):
        r = radius * scale
        draw.ellipse((c - r, c - r, c + r, c + r), fill=color)
    draw.polygon([(x * scale, y * scale) for x, y in star(*_STAR)], fill=d["ink"])
    font = _font(round(_LABEL_SIZE * scale))
    draw.text((c, _LABEL_Y * scale), d["label"], font=font, fill=d["ink"], anchor="mm",
              stroke_width=round(scale * 0.6), stroke_fill=d["ink"])
    out = io.BytesIO()
    image.resize((PNG_SIZE, PNG_SIZE), Image.LANCZOS).save(out, "PNG")
    return out.getvalue()


def baked_png(level: str, keyword: str, text: str) -> bytes:
    """The level's PNG with ``text`` in an uncompressed ``iTXt`` chunk named ``keyword``."""
    return baking.bake_png(png(level), text, keyword=keyword.encode())
