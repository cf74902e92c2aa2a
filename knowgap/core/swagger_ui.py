"""Swagger UI's files for ``/docs``, served by the app itself from an installed package.

Why: loaded from a public CDN, ``/docs`` is a blank page on a machine without internet or on
a campus network that blocks the CDN. ``flask-swagger-ui`` (pinned in ``requirements.txt``)
ships the swagger-ui-dist files inside the wheel; only its ``dist`` folder is used here. The
``/docs`` page itself stays flask-smorest's (``OPENAPI_SWAGGER_UI_URL`` points it at ``URL``).

The URL carries the package version, so browsers may keep the files for a year and still load
the new ones after an upgrade.
"""
from __future__ import annotations

from importlib.metadata import version
from importlib.resources import files

from flask import Blueprint, send_from_directory

VERSION = version("flask-swagger-ui")
DIST = str(files("flask_swagger_ui") / "dist")
URL = f"/docs/swagger-ui/{VERSION}/"
MAX_AGE = 365 * 24 * 3600
# Swagger UI would otherwise send the spec's URL to the public swagger.io validator.
CONFIG = {"validatorUrl": None}

blp = Blueprint("swagger_ui_assets", __name__)


@blp.route(URL + "<path:filename>")
def asset(filename: str):
    """One file of swagger-ui-dist (``send_from_directory`` refuses paths outside it)."""
    return send_from_directory(DIST, filename, max_age=MAX_AGE)
