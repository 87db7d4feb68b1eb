"""Every kind of answer carries the full set of security headers (serve/security_headers.py), a
crash's 500 included; /docs has a policy of its own that allows exactly what its page loads."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import re
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from fastapi import Request
from fastapi.routing import APIRoute

from tests.support.live import LiveServer
from tests.support.photos import b64, photo_bytes
from tests.support.settings import BODY_LIMIT, service_settings

ORIGIN = "https://page.example"
# the page's own config.json names the API origin and the Metrika counter; settings add more
PAGE_CONFIG = {"apiBaseUrl": "https://api.example:8443/base", "analyticsId": "12345"}
PAGE_POLICY = (
    "default-src 'none'; script-src 'self' https://mc.yandex.ru https://yastatic.net; "
    "style-src 'self'; img-src 'self' blob: data: https://mc.yandex.ru; font-src 'self'; "
    "connect-src 'self' https://collector.example https://api.example:8443 https://mc.yandex.ru; "
    "manifest-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)
SECURITY_HEADERS = {
    "content-security-policy": PAGE_POLICY,
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
    "x-frame-options": "DENY",
}
RATE_BURST = 30  # POSTs one address may send at once; the 429 test spends a second address's
# routes that raise, added to the real app by the test (a bug's 500, on each error family)
CRASH_PATHS = {
    "/crash": "detail",
    "/v1/models/crash:predict": "error",
    "/v2/models/crash/infer": "error",
}


def assert_security_headers(answer: httpx.Response) -> None:
    for name, value in SECURITY_HEADERS.items():
        assert answer.headers.get_list(name) == [value], (name, answer.status_code, answer.text)


def settings(model_dirs: dict[str, Path], web: Path) -> object:
    return service_settings(
        {"man": model_dirs["man"]},
        web_dir=web,
        cors_origins=[ORIGIN],
        csp_connect_src=["https://collector.example"],
        rate_limit={"requests_per_minute": 1, "burst": RATE_BURST},
    )


@pytest.fixture(scope="module")
def web(tmp_path_factory: pytest.TempPathFactory) -> Path:
    web = tmp_path_factory.mktemp("dist")
    (web / "index.html").write_text("<!doctype html><title>pretty-meter</title>")
    (web / "config.json").write_text(json.dumps(PAGE_CONFIG))
    return web


async def crash(request: Request) -> None:
    raise RuntimeError("a bug planted by tests/service/test_security_headers.py")


@pytest.fixture(scope="module")
def server_url(model_dirs: dict[str, Path], web: Path) -> Iterator[str]:
    server = LiveServer(settings(model_dirs, web))  # the real create_app
    for path in CRASH_PATHS:  # first, so they win over the real routes and the page
        server.app.router.routes.insert(0, APIRoute(path, crash, methods=["POST"]))
    with server:
        yield server.url


BIG = b"x" * (BODY_LIMIT + 1)
MULTIPART = {"content-type": "multipart/form-data; boundary=x"}
TEXT = {"content-type": "text/plain"}
PREFLIGHT = {"origin": ORIGIN, "access-control-request-method": "POST"}


def scored(http: httpx.Client) -> httpx.Response:
    return http.post("/man/predict", json={"instances": [b64(photo_bytes("man.png"))]})


# answer kind → (request, expected status)
KINDS: dict[str, tuple[Callable[[httpx.Client], httpx.Response], int]] = {
    "page": (lambda http: http.get("/"), 200),
    "200 JSON": (lambda http: http.get("/healthz"), 200),
    "scored": (scored, 200),
    "404 ours": (lambda http: http.get("/nothing-here"), 404),
    "404 KServe": (lambda http: http.get("/v2/models/nobody"), 404),
    "405": (lambda http: http.delete("/v1/rate"), 405),  # from the page: GET and HEAD only
    "400 KServe V1": (lambda http: http.post("/v1/models/man:predict", content=b"{"), 400),
    "400 V2": (lambda http: http.post("/v2/models/man/infer", content=b"{"), 400),
    "415 ours": (lambda http: http.post("/v1/rate", content=b"x", headers=TEXT), 415),
    "422 original": (lambda http: http.post("/man/predict", json={"images": []}), 422),
    "413 body limit": (lambda http: http.post("/v1/rate", content=BIG, headers=MULTIPART), 413),
    "CORS preflight": (lambda http: http.options("/v1/rate", headers=PREFLIGHT), 200),
}


@pytest.mark.parametrize("kind", KINDS)
def test_each_kind_of_answer_carries_the_security_headers(server_url: str, kind: str) -> None:
    request, status = KINDS[kind]
    with httpx.Client(base_url=server_url, timeout=60) as http:
        answer = request(http)
    assert answer.status_code == status, answer.text
    assert_security_headers(answer)


def test_a_crash_is_a_500_in_its_protocols_shape_with_the_security_headers_and_cors(
    server_url: str,
) -> None:
    for path, key in CRASH_PATHS.items():
        answer = httpx.post(f"{server_url}{path}", json={}, headers={"origin": ORIGIN})
        assert answer.status_code == 500, answer.text
        assert set(answer.json()) == {key} and "retry" in answer.json()[key]
        assert "RuntimeError" not in answer.text  # the cause goes to the log, not the client
        assert_security_headers(answer)
        assert answer.headers["access-control-allow-origin"] == ORIGIN
    # the service lives on
    assert httpx.get(f"{server_url}/healthz").status_code == 200


def test_the_rate_limits_429_carries_the_security_headers(server_url: str) -> None:
    # from an address of its own: 127.0.0.x all reach the server, each with its own bucket
    transport = httpx.HTTPTransport(local_address="127.0.0.2")
    with httpx.Client(base_url=server_url, transport=transport, timeout=60) as http:
        answers = [http.post("/v1/rate", content=b"") for _ in range(RATE_BURST + 1)]
    assert [a.status_code for a in answers] == [400] * RATE_BURST + [429]
    assert_security_headers(answers[-1])


def test_not_ready_503s_carry_the_security_headers(model_dirs: dict[str, Path], web: Path) -> None:
    from prettymeter.serve import create_app

    app = create_app(settings(model_dirs, web))

    async def ask() -> list[httpx.Response]:
        # ASGITransport never runs the lifespan: the app as it is while its models load.
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://starting") as client:
            return [await client.get("/readyz"), await client.post("/v1/rate", json={})]

    for answer in asyncio.run(ask()):
        assert answer.status_code == 503, answer.text
        assert_security_headers(answer)


def csp(answer: httpx.Response) -> dict[str, list[str]]:
    """The Content-Security-Policy of an answer as {directive: [sources]}."""
    policy = {}
    for part in answer.headers["content-security-policy"].split(";"):
        name, *sources = part.split()
        policy[name] = sources
    return policy


def test_docs_gets_a_policy_that_allows_exactly_what_its_page_loads(
    model_dirs: dict[str, Path],
) -> None:
    settings = service_settings({"man": model_dirs["man"]}, root_path="/api")
    with LiveServer(settings) as server:
        docs = httpx.get(f"{server.url}/api/docs")
        assert httpx.get(f"{server.url}/api/redoc").status_code == 404  # CDN fonts, workers: off
        schema = httpx.get(f"{server.url}/api/openapi.json")
    assert docs.status_code == 200 and schema.status_code == 200
    assert "url: '/api/openapi.json'" in docs.text
    policy = csp(docs)
    scripts = re.findall(r'<script src="([^"]+)"', docs.text)
    styles = re.findall(r'rel="stylesheet" href="([^"]+)"', docs.text)
    inline = re.findall(r"<script>(.*?)</script>", docs.text, flags=re.DOTALL)
    assert scripts and styles and len(inline) == 1
    digest = base64.b64encode(hashlib.sha256(inline[0].encode()).digest()).decode()
    assert sorted(policy["script-src"]) == sorted([*scripts, f"'sha256-{digest}'"])
    assert sorted(policy["style-src"]) == sorted(styles)
    assert not [s for sources in policy.values() for s in sources if s.startswith("'unsafe-")]
    assert policy["connect-src"] == ["'self'"] and policy["frame-ancestors"] == ["'none'"]
    assert len(docs.headers.get_list("content-security-policy")) == 1  # its own, not both
    for name in ("x-content-type-options", "referrer-policy", "x-frame-options"):
        assert docs.headers.get_list(name) == [SECURITY_HEADERS[name]], name
