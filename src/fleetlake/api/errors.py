"""Every error leaves the API as `{"error": {"code", "message", "details"}}` with a 4xx/5xx."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from fleetlake.errors import FleetlakeError

log = logging.getLogger(__name__)


def error_body(code: str, message: str, **details: object) -> dict[str, object]:
    return {"error": {"code": code, "message": message, "details": details}}


async def on_fleetlake_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, FleetlakeError)
    return JSONResponse(exc.to_dict(), status_code=exc.status_code)


async def on_validation_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = exc.errors()
    first = errors[0] if errors else {}
    location = [str(part) for part in first.get("loc", ()) if part not in ("query", "body", "path")]
    field = ".".join(location) or "request"
    message = f"{field}: {first.get('msg', 'invalid value')}"
    problems = [
        {"field": ".".join(str(p) for p in e.get("loc", ())), "message": e.get("msg")}
        for e in errors
    ]
    return JSONResponse(
        error_body("invalid_parameter", message, field=field, problems=problems), 422
    )


async def on_http_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, HTTPException)
    code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
    return JSONResponse(error_body(code, str(exc.detail)), exc.status_code, headers=exc.headers)


async def on_unexpected(_: Request, exc: Exception) -> JSONResponse:
    log.exception("unhandled error", exc_info=exc)
    return JSONResponse(error_body("internal_error", "internal error; see the server log"), 500)


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(FleetlakeError, on_fleetlake_error)
    app.add_exception_handler(RequestValidationError, on_validation_error)
    app.add_exception_handler(HTTPException, on_http_error)
    app.add_exception_handler(Exception, on_unexpected)
