"""``/health``: is the service able to serve, i.e. is the database answering."""
from __future__ import annotations

from flask_smorest import Blueprint

from knowgap.core import db as dbmod
from knowgap.core.extensions import limiter
from knowgap.core.schemas import StrictSchema, fields
from knowgap.core.services import services

blp = Blueprint("health", __name__, description="Service health")


class HealthSchema(StrictSchema):
    status = fields.String()
    database = fields.String()
    embedded_database = fields.Boolean()


@blp.route("/health")
@limiter.exempt
@blp.response(200, HealthSchema)
@blp.alt_response(503, schema=HealthSchema)
def health():
    svc = services()
    up = dbmod.ping(svc.db) and svc.indexes.ensure()
    body = {"status": "ok" if up else "degraded", "database": "up" if up else "down",
            "embedded_database": dbmod.is_embedded(svc.db)}
    return body, 200 if up else 503
