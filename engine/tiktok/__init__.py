"""The creator's own TikTok account through TikTok's official API (Login Kit v2 for desktop + Display API).

- ``auth``: sign-in with OAuth 2.0 authorization code + PKCE, the one-shot 127.0.0.1 redirect listener, the token
  exchange and refresh, and the token file (mode 0600, in the user config dir).
- ``client``: the HTTP client of the Display API (``/v2/user/info/``, ``/v2/video/list/``, ``/v2/video/query/``):
  retries with backoff for HTTP 429 and 5xx within a bound, timeouts, a plain message for every ``error.code``.
- ``sync``: every video's numbers, paged to the end, stored with the time they were read (growth over time is
  kept), matched to local clips by TikTok id; optional download of the videos that have no local copy.
- the command, ``byteme tiktok login|logout|sync``, is ``engine/cli/tiktok.py``.

Nothing here prints a token: errors are built from our own words plus TikTok's ``error.code``/``message`` and
``log_id``, with every secret we hold scrubbed from them.
"""
from __future__ import annotations

from ..errors import BytemeError


class TikTokError(BytemeError):
    """A TikTok API call that failed for a reason other than the sign-in (network, rate limit, bad answer)."""

    kind = "tiktok"


class TikTokAuthError(TikTokError):
    """No usable sign-in: none saved, declined, expired or revoked, a missing scope, wrong client key/secret.
    The CLI exits with 2 and says what to do (usually ``byteme tiktok login``)."""

    kind = "tiktok_auth"


def scrub(text: object, secrets) -> str:
    """``text`` with every non-empty value of ``secrets`` replaced by ``[hidden]``: the last guard that keeps a
    token, code or client secret out of an error message."""
    s = str(text)
    for secret in secrets:
        if secret and isinstance(secret, str) and len(secret) >= 4:
            s = s.replace(secret, "[hidden]")
    return s
