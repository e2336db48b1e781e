"""What is shown or logged never carries a secret: credentials in URLs (`user:password@`,
`?token=…`) are masked wherever a job, event, quarantine row or log line shows a source;
and what leaves over HTTP names server folders relative to the home (`<home>/data/…`).

The real values stay where the work needs them (a job's stored params, to retry it)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import unquote, urlsplit, urlunsplit

MASK = "***"
# Query parameters that carry credentials, by the names providers give them.
SECRET_NAMES = re.compile(
    r"token|secret|passw|pwd|key|sig|auth|credential|session|code", re.IGNORECASE
)
QUERY_PAIR = re.compile(r"([^&=]+)=([^&]*)")
TRAILING = ".,:;!?"
URL = re.compile(r"\b[a-z][a-z0-9+.-]*://[^\s'\"<>()\[\]{}]+", re.IGNORECASE)
T = TypeVar("T")


def redact_url(url: str) -> str:
    """The URL with its password and secret query values masked (user names stay)."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:  # not a URL after all: masked whole rather than shown
        return MASK
    netloc = parts.netloc
    if parts.password is not None or "@" in netloc:
        user = parts.username or ""
        host = parts.hostname or ""
        shown_user = f"{user}:{MASK}" if parts.password is not None else MASK
        netloc = f"{shown_user}@{host}" + (f":{port}" if port else "")
    query = QUERY_PAIR.sub(_masked_pair, parts.query)
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))


def _masked_pair(pair: re.Match[str]) -> str:
    """`name=value` of a query, its value masked when the name says it is a secret."""
    return f"{pair[1]}={MASK}" if SECRET_NAMES.search(unquote(pair[1])) else pair[0]


def redact_text(text: str) -> str:
    """Every URL inside `text` redacted."""
    if "://" not in text:
        return text
    return URL.sub(lambda match: redact_url(match[0].rstrip(TRAILING)) + _trail(match[0]), text)


def _trail(url: str) -> str:
    """The punctuation a sentence put after a URL ("… of https://x/a.csv: HTTP 404")."""
    return url[len(url.rstrip(TRAILING)) :]


def redact(value: T) -> T:
    """`value` (str, or lists and dicts of them, any depth) with every URL redacted."""
    shown: T = _walk(value, redact_text)
    return shown


def hide_home(value: T, *, home: Path) -> T:
    """`value` with the server's home folder written `<home>`: a server path is shown
    without the server's layout."""
    prefix = str(home)
    shown: T = _walk(value, lambda text: text.replace(prefix, "<home>") if prefix in text else text)
    return shown


def _walk(value: Any, change: Any) -> Any:
    if isinstance(value, str):
        return change(value)
    if isinstance(value, dict):
        return {key: _walk(item, change) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_walk(item, change) for item in value]
    return value
