"""Which addresses may be fetched: http and https only, with a host name and no control characters."""
from __future__ import annotations

import urllib.parse

from ..errors import IngestError
from .errors import KIND_TEXT


def check_url(url: str) -> str:
    """Return the URL stripped of surrounding spaces, or raise ``IngestError(kind="bad_url")``."""
    text = (url or "").strip()
    try:
        parts = urllib.parse.urlsplit(text)
    except ValueError as exc:
        raise IngestError(f"{KIND_TEXT['bad_url']}: {exc}.", kind="bad_url") from None
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https"):
        shown = f"'{scheme}:'" if scheme else "no scheme"
        raise IngestError(
            f"Only http and https addresses can be fetched; this one has {shown}.", kind="bad_url")
    if not parts.hostname:
        raise IngestError("The address has no host name (expected e.g. https://example.com/video).",
                          kind="bad_url")
    if any(ord(ch) < 0x20 or ord(ch) == 0x7F for ch in text):
        raise IngestError("The address contains control characters.", kind="bad_url")
    return text
