"""docs/api.md lists every route the app serves (its OpenAPI document, path by path)."""

from __future__ import annotations

import re
from pathlib import Path

from fleetlake.api.app import create_app
from fleetlake.settings import Settings

DOCS = Path(__file__).parents[2] / "docs"


def _shape(text: str) -> str:
    return re.sub(r"\{[^}]+\}", "{}", text)  # `{id}` and `{job_id}` name the same slot


def test_api_md_lists_every_route() -> None:
    spec = create_app(Settings(home=Path("unused"))).openapi()
    documented = _shape((DOCS / "api.md").read_text())
    missing = [
        f"{method.upper()} {path}"
        for path, operations in spec["paths"].items()
        for method in operations
        if f"`{method.upper()} {_shape(path)}`" not in documented
    ]
    assert missing == []
