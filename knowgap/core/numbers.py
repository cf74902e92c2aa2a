"""Reading numbers that arrive from outside (Canvas JSON, stored documents) defensively."""
from __future__ import annotations

import math


def finite_float(value) -> float | None:
    """``value`` as a finite float, or None for missing, boolean, non-numeric, NaN or inf
    (Canvas sends scores as numbers, numeric strings or null)."""
    if value is None or isinstance(value, bool):
        return None
    try:
        out = float(value)
    except (TypeError, ValueError):
        return None
    return out if math.isfinite(out) else None
