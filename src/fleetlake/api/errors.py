"""Every error leaves the API as `{"error": {"code", "message", "details"}}` with a 4xx/5xx."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import ValidationError
from starlette.exceptions import HTTPException

from fleetlake.errors import FleetlakeError, InvalidParameter

log = logging.getLogger(__name__)


def error_body(code: str, message: str, **details: object) -> dict[str, object]:
    return {"error": {"code": code, "message": message, "details": details}}


async def on_fleetlake_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, FleetlakeError)
    return JSONResponse(exc.to_dict(), status_code=exc.status_code)


PLACES = ("query", "body", "path", "header", "cookie")


def described_problems(errors: Sequence[Any]) -> list[dict[str, str]]:
    """Pydantic's errors as {field, message}: the field by name, the value received, and no
    links or class names (what a user reads, not what a developer debugs)."""
    problems = []
    for error in errors:
        location = [str(p) for p in error.get("loc", ()) if p not in PLACES]
        if error.get("type") == "json_invalid":
            why = (error.get("ctx") or {}).get("error", "")
            problems.append({"field": "body", "message": f"the body is not valid JSON ({why})"})
            continue
        field = ".".join(location) or "body"
        message = f"{field}: {error.get('msg', 'invalid value')}"
        if error.get("type") != "missing" and not isinstance(error.get("input"), dict | list):
            message += f" (got {str(error.get('input'))[:60]!r})"
        problems.append({"field": field, "message": message})
    return problems or [{"field": "body", "message": "invalid request"}]


def invalid_body(exc: ValidationError, *, expected: str) -> InvalidParameter:
    """A body validated by hand, refused the way the API refuses any other."""
    problems = described_problems(exc.errors())
    first = problems[0]
    return InvalidParameter(
        first["field"], f"{first['message']}; expected {expected}", problems=problems
    )


async def on_validation_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    problems = described_problems(exc.errors())
    first = problems[0]
    body = error_body("invalid_parameter", first["message"], field=first["field"],
                      problems=problems)  # fmt: skip
    return JSONResponse(body, 422)


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
