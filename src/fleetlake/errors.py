"""Every error fleetlake raises on purpose. The API renders them as
`{"error": {"code", "message", "details"}}` with `status_code`; the CLI as one red line.

FleetlakeError
├── BadRequest              (400) input the user can fix; `details.field` names it
│   ├── InvalidParameter    (400) a query/body parameter is malformed
│   ├── SourceRejected      (400) a source cannot be ingested (bad header, binary, unsafe URL…)
│   └── UploadTooLarge      (413) an upload or download exceeded the size limit
├── Unauthorized            (401) a missing or wrong API key
├── NotFound                (404) a row or file that does not exist
├── Conflict                (409) the request clashes with the current state
└── ServiceError            (503) the database / lake / a service is not usable
    ├── SchemaOutdated      (503) the database schema is older than this code
    └── Unreachable         (503) a polled source's service did not answer, retries spent
"""

from __future__ import annotations

from typing import Any


class FleetlakeError(Exception):
    status_code = 500
    code = "internal_error"

    def __init__(self, message: str, **details: Any) -> None:
        super().__init__(message)
        self.message = message
        self.details = details

    def to_dict(self) -> dict[str, Any]:
        return {"error": {"code": self.code, "message": self.message, "details": self.details}}


class BadRequest(FleetlakeError):
    status_code = 400
    code = "bad_request"


class InvalidParameter(BadRequest):
    code = "invalid_parameter"

    def __init__(self, field: str, message: str, **details: Any) -> None:
        super().__init__(message, field=field, **details)


class SourceRejected(BadRequest):
    code = "source_rejected"


class UploadTooLarge(BadRequest):
    status_code = 413
    code = "too_large"


class Unauthorized(FleetlakeError):
    status_code = 401
    code = "unauthorized"


class NotFound(FleetlakeError):
    status_code = 404
    code = "not_found"


class Conflict(FleetlakeError):
    status_code = 409
    code = "conflict"


class ServiceError(FleetlakeError):
    status_code = 503
    code = "service_unavailable"


class SchemaOutdated(ServiceError):
    code = "schema_outdated"


class Unreachable(ServiceError):
    code = "unreachable"
