"""The OpenAPI document as the API really is: the API key as a security scheme (writes
always, reads when FLEETLAKE_READ_REQUIRES_KEY), the real error body for every 4xx, and
Swagger UI and ReDoc served from the package (no CDN: they work offline)."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from pydantic.json_schema import models_json_schema

from fleetlake.api.deps import READ_SCHEME
from fleetlake.api.deps import WRITE_SCHEME as SCHEME
from fleetlake.api.schemas import ERROR_MEANINGS, ErrorBody
from fleetlake.settings import Settings

REF = "#/components/schemas/{model}"
ERROR_REF = {"$ref": REF.format(model="ErrorBody")}


def _error(status: int) -> dict[str, Any]:
    return {
        "description": ERROR_MEANINGS[status],
        "content": {"application/json": {"schema": ERROR_REF}},
    }


def describe(app: FastAPI, settings: Settings) -> None:
    """Replace `app.openapi` by one that finishes FastAPI's document (built once)."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        spec = get_openapi(
            title=app.title,
            version=app.version,
            summary=app.summary,
            description=app.description,
            routes=app.routes,
        )
        for operations in spec["paths"].values():
            for operation in operations.values():
                needs = {name for scheme in operation.get("security", []) for name in scheme}
                reads = READ_SCHEME in needs and settings.read_requires_key
                _finish(operation, secured=SCHEME in needs or reads)
        _, errors = models_json_schema([(ErrorBody, "serialization")], ref_template=REF)
        spec["components"]["schemas"].update(errors["$defs"])
        spec["components"]["schemas"].pop("HTTPValidationError", None)
        spec["components"]["schemas"].pop("ValidationError", None)
        spec["components"]["securitySchemes"] = {  # one scheme: the reads' is the same key
            SCHEME: {
                "type": "apiKey",
                "in": "header",
                "name": "X-API-Key",
                "description": "one of FLEETLAKE_API_KEYS",
            }
        }
        app.openapi_schema = spec
        return spec

    app.openapi = openapi  # type: ignore[method-assign]


def _finish(operation: dict[str, Any], *, secured: bool) -> None:
    responses = operation["responses"]
    parameters = operation.get("parameters", [])
    takes_input = bool(parameters) or "requestBody" in operation
    if takes_input:
        responses.setdefault("400", _error(400))
        responses["422"] = _error(422)  # FastAPI's own shape is not what the API sends
    else:
        responses.pop("422", None)
    if any(p["in"] == "path" for p in parameters):
        responses.setdefault("404", _error(404))
    operation.pop("security", None)
    if secured:
        operation["security"] = [{SCHEME: []}]
        responses.setdefault("401", _error(401))
    for status in responses:  # errors are JSON whatever the route's own media type
        if status[0] in "45":
            responses[status]["content"] = {"application/json": {"schema": ERROR_REF}}
