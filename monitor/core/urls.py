"""The one URL rule for receivers: Settings checks a value with it when loaded, and each
notifier's config with it when built, so a URL that passes one never fails the other."""

from __future__ import annotations

from urllib.parse import urlsplit

_LOOPBACK = {"localhost", "127.0.0.1", "::1"}


def check_url(raw: str | None, *, secret: bool, https_only: bool = True) -> str:
    """`raw` if it is an https:// URL (http:// too unless https_only, or to a loopback host:
    a local proxy, a test); else ValueError saying what is expected, echoing the value only
    when it is not a secret."""
    import httpx  # here, not above: Settings is imported everywhere, a URL is checked rarely

    wanted = "an https:// URL" if https_only else "an http:// or https:// URL"
    if raw is None or not raw.strip():
        raise ValueError(f"missing; expected {wanted}")
    shown = "" if secret else f" (got {raw!r})"
    try:
        parts = urlsplit(raw.strip())
        port = parts.port  # raises ValueError for a non-numeric port
        httpx.URL(raw)  # what httpx cannot parse would fail at every send
    except (ValueError, httpx.InvalidURL):
        raise ValueError(f"expected {wanted}{shown}") from None
    host = (parts.hostname or "").lower()
    ok_scheme = parts.scheme == "https" or (
        parts.scheme == "http" and (not https_only or host in _LOOPBACK)
    )
    if not ok_scheme or not host or raw != raw.strip() or port == 0:
        raise ValueError(f"expected {wanted}{shown}")
    return raw
