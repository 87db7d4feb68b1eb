"""Security headers on every answer: a Content-Security-Policy the page works under; /docs's own.

The page is built by Vite into files served from this origin: one module script, one stylesheet,
photo previews as `blob:` URLs, `fetch` to the API. So the page policy allows only this origin
(plus `blob:`/`data:` images), and the origins the page's own `config.json` names: an API on
another origin (`apiBaseUrl`) and the Yandex Metrika counter when `analyticsId` is set. Anything
else the page must reach is added with the `csp_connect_src` setting. Swagger UI at /docs loads
its script and stylesheet from a CDN and starts with an inline script; it gets a policy of its
own that allows exactly those (see docs/deployment.md).
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import re
from pathlib import Path
from urllib.parse import urlsplit

from starlette.types import ASGIApp, Message, Receive, Scope, Send

log = logging.getLogger("prettymeter.serve")

Policy = dict[str, list[str]]

# Where the optional Metrika counter (frontend/src/analytics.ts) loads from and reports to.
METRIKA_SOURCES = {
    "script-src": ["https://mc.yandex.ru", "https://yastatic.net"],
    "connect-src": ["https://mc.yandex.ru"],
    "img-src": ["https://mc.yandex.ru"],
}


def page_policy(extra_connect: list[str] | None = None, page_config: dict | None = None) -> Policy:
    """The policy of the page and the API answers."""
    policy: Policy = {
        "default-src": ["'none'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'", "blob:", "data:"],
        "font-src": ["'self'"],
        "connect-src": ["'self'"],
        "manifest-src": ["'self'"],
        "base-uri": ["'none'"],
        "form-action": ["'none'"],
        "frame-ancestors": ["'none'"],
    }
    extra = list(extra_connect or [])
    config = page_config or {}
    api = config.get("apiBaseUrl")
    if isinstance(api, str) and urlsplit(api).scheme in ("http", "https"):
        parts = urlsplit(api)
        extra.append(f"{parts.scheme}://{parts.netloc}")
    for source in extra:
        if source not in policy["connect-src"]:
            policy["connect-src"].append(source)
    if config.get("analyticsId"):
        for directive, sources in METRIKA_SOURCES.items():
            policy[directive] += [s for s in sources if s not in policy[directive]]
    return policy


def inline_script_hashes(html: str) -> list[str]:
    """CSP 'sha256-…' sources of every inline <script> of `html`."""
    hashes = []
    for body in re.findall(r"<script>(.*?)</script>", html, flags=re.DOTALL):
        digest = base64.b64encode(hashlib.sha256(body.encode()).digest()).decode()
        hashes.append(f"'sha256-{digest}'")
    return hashes


def docs_policy(html: str) -> Policy:
    """The policy of one Swagger UI page: its CDN files, its inline start script, nothing else."""
    urls = re.findall(r'(?:src|href)="(https://[^"]+)"', html)
    origins = sorted({f"{urlsplit(u).scheme}://{urlsplit(u).netloc}" for u in urls})
    scripts = re.findall(r'<script src="(https://[^"]+)"', html)
    styles = re.findall(r'rel="stylesheet" href="(https://[^"]+)"', html)
    return {
        "default-src": ["'none'"],
        "script-src": scripts + inline_script_hashes(html),
        # no 'unsafe-inline': Swagger UI 5 sets its styles through the DOM (checked in Chromium
        # with every operation opened and one run, see docs/deployment.md)
        "style-src": styles,
        "img-src": ["'self'", "data:", *origins],
        "connect-src": ["'self'"],
        "base-uri": ["'none'"],
        "form-action": ["'none'"],
        "frame-ancestors": ["'none'"],
    }


def render(policy: Policy) -> str:
    return "; ".join(f"{name} {' '.join(sources)}" for name, sources in policy.items())


def read_page_config(web_dir: Path | None) -> dict:
    """The built page's config.json (what origins the page will reach), or {}."""
    if web_dir is None or not (web_dir / "config.json").is_file():
        return {}
    try:
        data = json.loads((web_dir / "config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        log.warning(
            "%s/config.json cannot be read (%s); its origins are not in the CSP", web_dir, exc
        )
        return {}
    return data if isinstance(data, dict) else {}


class SecurityHeaders:
    """Adds the CSP (unless the answer set its own), nosniff, no-referrer and no framing."""

    def __init__(self, app: ASGIApp, content_security_policy: str) -> None:
        self.app = app
        self.headers = [
            (b"content-security-policy", content_security_policy.encode()),
            (b"x-content-type-options", b"nosniff"),
            (b"referrer-policy", b"no-referrer"),
            (b"x-frame-options", b"DENY"),
        ]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {name.lower() for name, _ in headers}
                headers += [(k, v) for k, v in self.headers if k not in present]
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_headers)
