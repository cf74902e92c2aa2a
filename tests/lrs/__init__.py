"""A real Learning Record Store (ralph-malph) for the xAPI tests and bench/xapi.py."""
from tests.lrs.server import RalphLRS, ensure_lrs_venv  # noqa: F401
