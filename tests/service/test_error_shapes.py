"""Every error status on every protocol family, in that family's shape (serve/protocol_errors.py):
`{"error"}` on the KServe V1 and V2 paths, `{"detail"}` on ours and the original routes, whose
body errors are the original service's 422. The unhandled 500 is in test_security_headers.py."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from prettymeter.serve.protocol_errors import error_body
from tests.support.live import LiveServer
from tests.support.photos import b64, photo_bytes
from tests.support.raw_http import raw_request
from tests.support.settings import BODY_LIMIT, service_settings

PHOTO = b64(photo_bytes("man.png"))

# family → (a scoring path, the key of its error body)
FAMILIES = {
    "ours": ("/v1/rate", "detail"),
    "original": ("/man/predict", "detail"),
    "kserve v1": ("/v1/models/man:predict", "error"),
    "v2": ("/v2/models/man/infer", "error"),
}
ORIGINAL_422 = {"status_code", "message", "data"}


def scoring_body(family: str, photos: list[str]) -> dict:
    """A well-formed request of `family` for these base64 photos."""
    if family == "v2":
        tensor = {"name": "photo", "datatype": "BYTES", "shape": [len(photos)]}
        return {"inputs": [{**tensor, "data": photos}]}
    if family == "ours":
        return {"instances": photos, "gender": "m"}
    return {"instances": photos}


def assert_error(answer: httpx.Response, status: int, key: str, *words: str) -> None:
    assert answer.status_code == status, answer.text
    body = answer.json()
    assert set(body) == {key}, body
    assert body[key] and "\n" not in body[key], body
    for word in words:
        assert word in body[key], body


def assert_original_422(answer: httpx.Response, *words: str) -> None:
    assert answer.status_code == 422, answer.text
    body = answer.json()
    assert set(body) == ORIGINAL_422 and body["status_code"] == 10422, body
    for word in words:
        assert word in body["message"], body


STATUSES = (400, 404, 405, 408, 413, 415, 422, 429, 500, 503, 504)


@pytest.mark.parametrize("root", ["", "/api"])
@pytest.mark.parametrize("family", FAMILIES)
def test_one_function_decides_the_shape_by_path_for_every_status(family: str, root: str) -> None:
    path, key = FAMILIES[family]
    for prefix in ("", root):  # with the prefix, or with it stripped by a proxy
        scope = {"path": prefix + path, "root_path": root}
        for status in STATUSES:
            assert error_body(scope, status, "x") == (status, {key: "x"})
        status, body = error_body(scope, 415, "x", body_error=True)
        if family == "original":
            assert status == 422 and body == {"status_code": 10422, "message": "x", "data": None}
        else:
            assert (status, body) == (415, {key: "x"})
    # a path that only starts like a protocol's is ours
    assert error_body({"path": "/v2x", "root_path": ""}, 404, "x") == (404, {"detail": "x"})
    assert error_body({"path": "/v2", "root_path": ""}, 404, "x") == (404, {"error": "x"})


def test_the_routes_refusals_take_each_familys_shape(service_url: str) -> None:
    with httpx.Client(base_url=service_url, timeout=60) as http:
        # 400: a body the route reads but cannot use
        no_model = http.post("/v1/rate", json={"instances": [PHOTO]})
        assert_error(no_model, 400, "detail", "gender")
        assert_error(
            http.post("/man/predict", json={"instances": ["%%%"]}), 400, "detail", "instance 0"
        )
        for family in ("kserve v1", "v2"):
            path, key = FAMILIES[family]
            assert_error(http.post(path, content=b"{"), 400, key, "not valid JSON")
        # 404: no such model
        unknown = http.post("/v1/rate", json={"instances": [PHOTO], "model": "nobody"})
        assert_error(unknown, 404, "detail", "nobody")
        unknown = http.post("/v1/models/nobody:predict", json=scoring_body("kserve v1", [PHOTO]))
        assert_error(unknown, 404, "error", "nobody")
        unknown = http.post("/v2/models/nobody/infer", json=scoring_body("v2", [PHOTO]))
        assert_error(unknown, 404, "error", "nobody")
        # 404 and 405 from routing: no such path, or no such method on a path
        assert_error(http.get("/v2/repository/index"), 404, "error", "Not Found")
        assert_error(http.get("/nothing-here"), 404, "detail", "Not Found")
        assert_error(http.get("/v1/rate"), 405, "detail", "Not Allowed")
        assert_error(http.get("/man/predict"), 405, "detail", "Not Allowed")
        assert_error(http.post("/v1/models/man"), 405, "error", "Not Allowed")
        assert_error(http.get("/v2/models/man/infer"), 405, "error", "Not Allowed")
        # 415: a content type or encoding the route does not take (the original's 422 instead)
        text = {"content-type": "text/plain"}
        assert_error(http.post("/v1/rate", content=b"x", headers=text), 415, "detail", "text/plain")
        assert_original_422(http.post("/man/predict", content=b"x", headers=text), "text/plain")
        for family in ("kserve v1", "v2"):
            path, key = FAMILIES[family]
            gzipped = http.post(path, content=b"x", headers={"content-encoding": "gzip"})
            assert_error(gzipped, 415, key, "Content-Encoding")
        # 422: JSON off the schema
        assert_error(http.post("/v1/rate", json={"instances": "x"}), 422, "detail", "instances")
        assert_original_422(http.post("/man/predict", json={"images": []}), "instances")


def test_too_many_photos_is_a_413_in_each_familys_shape(service_url: str) -> None:
    for family, (path, key) in FAMILIES.items():
        answer = httpx.post(f"{service_url}{path}", json=scoring_body(family, ["eA=="] * 17))
        assert_error(answer, 413, key, "17 photos", "limit is 16")


def test_a_body_over_the_limit_is_a_413_in_each_familys_shape(service_url: str) -> None:
    big = b"x" * (BODY_LIMIT + 1)

    def chunks() -> Iterator[bytes]:  # no Content-Length: the limit counts while reading
        yield from (big[i : i + 65536] for i in range(0, len(big), 65536))

    for path, key in FAMILIES.values():
        answer = httpx.post(f"{service_url}{path}", content=big, timeout=60)
        assert_error(answer, 413, key, "over the limit")
        assert answer.headers["connection"] == "close"
        chunked = httpx.post(f"{service_url}{path}", content=chunks(), timeout=60)
        assert "content-length" not in chunked.request.headers
        assert_error(chunked, 413, key, "over the limit")


def test_not_ready_is_a_503_in_each_familys_shape(model_dirs: dict[str, Path]) -> None:
    from prettymeter.serve import create_app

    app = create_app(service_settings(model_dirs))

    async def ask() -> list[tuple[str, httpx.Response]]:
        # ASGITransport never runs the lifespan: the app as it is while its models load.
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://starting") as client:
            assert (await client.get("/v2/health/live")).json() == {"live": True}
            answers = [
                ("error", await client.get("/v2/health/ready")),
                ("error", await client.get("/v2/models/man/ready")),
                ("error", await client.get("/v1/models/man")),
            ]
            for family, (path, key) in FAMILIES.items():
                body = scoring_body(family, [PHOTO])
                answers.append((key, await client.post(path, json=body)))
            return answers

    for key, answer in asyncio.run(ask()):
        assert_error(answer, 503, key, "retry")
        assert answer.headers["retry-after"]


def test_a_slow_body_408_and_a_slow_request_504_take_each_familys_shape(
    model_dirs: dict[str, Path],
) -> None:
    limits = {"max_body_bytes": BODY_LIMIT, "request_timeout_s": 0.001, "body_timeout_s": 0.5}
    with LiveServer(service_settings(model_dirs, limits=limits)) as server:
        for family, (path, key) in FAMILIES.items():
            # 10 bytes of the 1000 declared, then nothing: cut once the body timeout passes
            lying = {"content-type": "application/json", "content-length": "1000"}
            slow = raw_request(server.url, "POST", path, b'{"instanc', lying, timeout=30)
            assert slow.status == 408 and set(slow.json()) == {key}, slow
            late = httpx.post(f"{server.url}{path}", json=scoring_body(family, [PHOTO]))
            assert_error(late, 504, key, "longer than")
