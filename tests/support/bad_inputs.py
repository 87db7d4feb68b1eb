"""The bad-input corpus, generated at test time: hostile or broken photos and requests."""

from __future__ import annotations

import base64
import io
import json
import struct
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
from PIL import Image

from tests.support.paths import DATA


def _chunk(kind: bytes, data: bytes) -> bytes:
    body = kind + data
    return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))


def _png_with_chunks(
    width: int, height: int, extra: list[bytes], rows: bytes | None = None
) -> bytes:
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)  # 8-bit grayscale
    raw = rows if rows is not None else b"".join(b"\x00" + b"\x80" * width for _ in range(height))
    return (
        b"\x89PNG\r\n\x1a\n"
        + _chunk(b"IHDR", header)
        + b"".join(extra)
        + _chunk(b"IDAT", zlib.compress(raw, 9))
        + _chunk(b"IEND", b"")
    )


def _encode(image: Image.Image, fmt: str, **options: object) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **options)
    return buffer.getvalue()


def valid_photo() -> bytes:
    """The real-face fixture photo: the request that must succeed after each bad one."""
    return (DATA / "man.png").read_bytes()


def _small_rgb(side: int = 48) -> Image.Image:
    rng = np.random.default_rng(3)
    return Image.fromarray(rng.integers(0, 255, (side, side, 3), dtype=np.uint8), "RGB")


# -- hostile photo files -------------------------------------------------------------------------


def empty_file() -> bytes:
    return b""


def random_bytes() -> bytes:
    return np.random.default_rng(1).integers(0, 256, 4096, dtype=np.uint8).tobytes()


def truncated_jpeg() -> bytes:
    data = _encode(_small_rgb(200), "JPEG", quality=90)
    return data[: len(data) // 2]


def truncated_png() -> bytes:
    data = _encode(_small_rgb(200), "PNG")
    return data[: len(data) // 3]


def png_decompression_bomb() -> bytes:
    """A valid PNG header claiming 30000×30000 pixels with a few KB of data."""
    side = 30000
    header = struct.pack(">IIBBBBB", side, side, 1, 0, 0, 0, 0)
    row = b"\x00" + b"\x00" * ((side + 7) // 8)
    compressor = zlib.compressobj(9)
    data = b"".join(compressor.compress(row) for _ in range(200)) + compressor.flush()
    return (
        b"\x89PNG\r\n\x1a\n"
        + _chunk(b"IHDR", header)
        + _chunk(b"IDAT", data)
        + _chunk(b"IEND", b"")
    )


def png_huge_itxt() -> bytes:
    """A small PNG carrying a compressed iTXt chunk that inflates to 256 MB of text."""
    compressor = zlib.compressobj(9)
    block = b"A" * (1 << 20)
    text = b"".join(compressor.compress(block) for _ in range(256)) + compressor.flush()
    itxt = b"Comment\x00" + b"\x01\x00" + b"\x00" + b"\x00" + text
    return _png_with_chunks(32, 32, [_chunk(b"iTXt", itxt)])


def png_many_text_chunks() -> bytes:
    """20,000 tiny tEXt chunks before the pixels (a chunk-count flood)."""
    chunks = [_chunk(b"tEXt", b"k\x00" + str(i).encode()) for i in range(20_000)]
    return _png_with_chunks(16, 16, chunks)


def jpeg_corrupt_huffman() -> bytes:
    """A JPEG whose Huffman tables (DHT segments) are overwritten with garbage."""
    data = bytearray(_encode(_small_rgb(128), "JPEG", quality=90))
    rng = np.random.default_rng(5)
    position = 0
    while True:
        position = data.find(b"\xff\xc4", position)
        if position < 0:
            break
        length = struct.unpack(">H", data[position + 2 : position + 4])[0]
        start = position + 5  # after the table class/id byte
        data[start : position + 2 + length] = rng.integers(
            0, 256, length - 3, dtype=np.uint8
        ).tobytes()
        position += 2 + length
    return bytes(data)


def jpeg_huge_dimensions() -> bytes:
    """A JPEG whose frame header claims 65500×65500 pixels."""
    data = bytearray(_encode(_small_rgb(64), "JPEG", quality=90))
    sof = data.find(b"\xff\xc0")
    data[sof + 5 : sof + 9] = struct.pack(">HH", 65500, 65500)
    return bytes(data)


def tiff_thousands_of_pages(pages: int = 5000) -> bytes:
    """A little-endian TIFF of `pages` 4×4 grayscale pages sharing one strip (built by hand:
    Pillow takes seconds to write thousands of frames)."""
    strip_offset, strip = 8, bytes(range(16))
    first_ifd = strip_offset + len(strip)
    ifd_size = 2 + 8 * 12 + 4
    out = bytearray(b"II*\x00" + struct.pack("<I", first_ifd) + strip)
    for page in range(pages):
        entries = [
            (256, 3, 1, 4),  # width
            (257, 3, 1, 4),  # height
            (258, 3, 1, 8),  # bits per sample
            (259, 3, 1, 1),  # no compression
            (262, 3, 1, 1),  # black is zero
            (273, 4, 1, strip_offset),
            (278, 3, 1, 4),  # rows per strip
            (279, 4, 1, len(strip)),
        ]
        out += struct.pack("<H", len(entries))
        for tag, kind, count, value in entries:
            out += struct.pack("<HHII", tag, kind, count, value)
        following = first_ifd + (page + 1) * ifd_size if page + 1 < pages else 0
        out += struct.pack("<I", following)
    return bytes(out)


def one_by_30000() -> bytes:
    return _encode(Image.new("RGB", (1, 30000), (200, 150, 120)), "PNG")


def svg_as_image() -> bytes:
    return (
        b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg" width="100" height="100">'
        b'<circle cx="50" cy="50" r="40" fill="red"/><script>alert(1)</script></svg>'
    )


def pdf_as_image() -> bytes:
    return _encode(_small_rgb(64), "PDF")


def eps_as_image() -> bytes:
    """PostScript: Pillow would hand it to Ghostscript to render; it must be refused first."""
    return b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 100 100\nshowpage\n%%EOF\n"


def ico_as_image() -> bytes:
    return _encode(_small_rgb(32), "ICO")


def polyglot_png_zip() -> bytes:
    """A valid PNG that is also a ZIP archive (a ZIP is read from its end)."""
    archive = io.BytesIO()
    import zipfile

    with zipfile.ZipFile(archive, "w") as handle:
        handle.writestr("payload.html", "<script>alert(1)</script>")
    return _encode(_small_rgb(64), "PNG") + archive.getvalue()


def polyglot_gif_js() -> bytes:
    """A 'GIF' that is really JavaScript (GIF89a=…;alert(1)): the header lies."""
    return b"GIF89a/*\x01\x00\x01\x00\x00\xff\x00*/=1;alert(document.domain);//" + b"\x00" * 64


def html_as_image() -> bytes:
    return b"<!DOCTYPE html><html><body><img src=x onerror=alert(1)></body></html>"


def heic_garbage() -> bytes:
    return b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic" + b"\xde\xad\xbe\xef" * 256


def webp_truncated() -> bytes:
    data = _encode(_small_rgb(128), "WEBP", quality=80)
    return data[: len(data) // 2]


def bmp_huge_header() -> bytes:
    """A BMP header claiming 50000×50000 pixels with 54 bytes of pixel data."""
    data = bytearray(_encode(_small_rgb(4), "BMP"))
    data[18:26] = struct.pack("<ii", 50000, 50000)
    return bytes(data)


def gif_many_frames() -> bytes:
    frames = [Image.new("P", (8, 8), i % 256) for i in range(2000)]
    return _encode(frames[0], "GIF", save_all=True, append_images=frames[1:], duration=1)


def broken_exif() -> bytes:
    """A JPEG whose EXIF block is garbage (a phone app gone wrong)."""
    data = _encode(_small_rgb(64), "JPEG", quality=90)
    app1 = b"Exif\x00\x00MM\x00\x2a\x00\x00\x00\x08\xff\xff" + b"\x01" * 64
    segment = b"\xff\xe1" + struct.pack(">H", len(app1) + 2) + app1
    return data[:2] + segment + data[2:]


# -- the corpus ----------------------------------------------------------------------------------

# What v1 may answer for a photo that cannot be scored.
UNREADABLE = {"not_an_image", "unsupported_format", "too_large"}
UNSCORABLE = {"no_face", "several_faces", "face_too_small"}


@dataclass(frozen=True)
class BadPhoto:
    """A hostile photo file: v1 must answer a per-photo error in `codes`; the seed route a 400
    when `seed_400` (a decodable photo is scored whole there, as the seed did)."""

    name: str
    build: Callable[[], bytes]
    codes: frozenset[str]
    seed_400: bool = True


BAD_PHOTOS = [
    BadPhoto("empty file", empty_file, frozenset({"not_an_image"})),
    BadPhoto("random bytes", random_bytes, frozenset({"not_an_image"})),
    BadPhoto("truncated JPEG", truncated_jpeg, frozenset({"not_an_image"})),
    BadPhoto("truncated PNG", truncated_png, frozenset({"not_an_image"})),
    BadPhoto(
        "PNG decompression bomb 30000x30000", png_decompression_bomb, frozenset({"too_large"})
    ),
    BadPhoto("PNG with a 256 MB iTXt chunk", png_huge_itxt, frozenset(UNREADABLE)),
    BadPhoto(
        "PNG with 20,000 text chunks",
        png_many_text_chunks,
        frozenset(UNREADABLE | UNSCORABLE),
        seed_400=False,
    ),
    BadPhoto(
        "JPEG with a corrupt Huffman table", jpeg_corrupt_huffman, frozenset({"not_an_image"})
    ),
    BadPhoto("JPEG claiming 65500x65500", jpeg_huge_dimensions, frozenset({"too_large"})),
    BadPhoto("BMP claiming 50000x50000", bmp_huge_header, frozenset(UNREADABLE)),
    BadPhoto(
        "TIFF with 5,000 pages",
        tiff_thousands_of_pages,
        frozenset(UNSCORABLE | UNREADABLE),
        seed_400=False,
    ),
    BadPhoto("GIF with 2,000 frames", gif_many_frames, frozenset(UNSCORABLE), seed_400=False),
    BadPhoto("1x30000 image", one_by_30000, frozenset(UNSCORABLE | {"too_large"}), seed_400=False),
    BadPhoto(
        "SVG posted as a photo", svg_as_image, frozenset({"not_an_image", "unsupported_format"})
    ),
    BadPhoto(
        "PDF posted as a photo", pdf_as_image, frozenset({"not_an_image", "unsupported_format"})
    ),
    BadPhoto(
        "EPS (Ghostscript) posted as a photo",
        eps_as_image,
        frozenset({"not_an_image", "unsupported_format"}),
    ),
    BadPhoto("ICO posted as a photo", ico_as_image, frozenset({"unsupported_format"})),
    BadPhoto("HTML posted as a photo", html_as_image, frozenset({"not_an_image"})),
    BadPhoto("polyglot PNG+ZIP", polyglot_png_zip, frozenset(UNSCORABLE), seed_400=False),
    BadPhoto("polyglot GIF/JavaScript", polyglot_gif_js, frozenset({"not_an_image"})),
    BadPhoto(
        "HEIC header with garbage", heic_garbage, frozenset({"not_an_image", "unsupported_format"})
    ),
    BadPhoto("truncated WebP", webp_truncated, frozenset({"not_an_image"})),
    BadPhoto("JPEG with a garbage EXIF block", broken_exif, frozenset(UNSCORABLE), seed_400=False),
]


@dataclass(frozen=True)
class BadRequest:
    """A hostile request: it must get one of `statuses` with a one-line JSON detail."""

    name: str
    path: str
    content: Callable[[], bytes]
    headers: dict[str, str] = field(default_factory=dict)
    statuses: frozenset[int] = frozenset({400, 422})


JSON = {"content-type": "application/json"}


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def _json(value: object) -> Callable[[], bytes]:
    return lambda: json.dumps(value).encode()


def nested_json(depth: int = 100_000) -> bytes:
    return b'{"instances": ' + b"[" * depth + b"]" * depth + b"}"


def multipart(parts: list[tuple[str, str | None, bytes]], boundary: str = "hardening") -> bytes:
    out = io.BytesIO()
    for name, filename, data in parts:
        out.write(f"--{boundary}\r\n".encode())
        disposition = f'form-data; name="{name}"'
        if filename is not None:
            disposition += f'; filename="{filename}"'
        out.write(f"Content-Disposition: {disposition}\r\n".encode())
        if filename is not None:
            out.write(b"Content-Type: application/octet-stream\r\n")
        out.write(b"\r\n" + data + b"\r\n")
    out.write(f"--{boundary}--\r\n".encode())
    return out.getvalue()


MULTIPART = {"content-type": "multipart/form-data; boundary=hardening"}


def _photo_parts(*extra: tuple[str, str | None, bytes]) -> Callable[[], bytes]:
    return lambda: multipart([("files", "man.png", valid_photo()), *extra])


BAD_REQUESTS = [
    BadRequest(
        "invalid base64 on the seed route",
        "/man/predict",
        _json({"instances": ["%%%not base64%%%"]}),
        JSON,
        frozenset({400}),
    ),
    BadRequest(
        "instances not strings",
        "/man/predict",
        _json({"instances": [1, None, {"a": 1}]}),
        JSON,
        frozenset({422}),
    ),
    BadRequest("JSON nested 100,000 levels deep", "/v1/rate", nested_json, JSON),
    BadRequest("JSON nested 100,000 levels deep (seed)", "/man/predict", nested_json, JSON),
    BadRequest(
        "a 1 MB string as gender",
        "/v1/rate",
        lambda: json.dumps(
            {"instances": [_b64(valid_photo())], "gender": "m" * 1_000_000}
        ).encode(),
        JSON,
        frozenset({404, 422}),
    ),
    BadRequest(
        "a 1 MB string as model name",
        "/v1/rate",
        lambda: json.dumps({"instances": [_b64(valid_photo())], "model": "x" * 1_000_000}).encode(),
        JSON,
        frozenset({404, 422}),
    ),
    BadRequest(
        "Unicode in JSON field names",
        "/v1/rate",
        _json({"ínstañces": [_b64(valid_photo())], "géndér": "m"}),
        JSON,
        frozenset({400, 422}),
    ),
    BadRequest(
        "Unicode in multipart field names",
        "/v1/rate",
        lambda: multipart([("fïlés", "man.png", valid_photo()), ("gendér", None, b"m")]),
        MULTIPART,
        frozenset({400}),
    ),
    BadRequest(
        "duplicate multipart gender fields",
        "/v1/rate",
        _photo_parts(("gender", None, b"m"), ("gender", None, b"w")),
        MULTIPART,
        frozenset({400}),
    ),
    BadRequest(
        "duplicate JSON keys",
        "/v1/rate",
        lambda: b'{"instances": [], "instances": [], "gender": "m"}',
        JSON,
        frozenset({400}),
    ),
    BadRequest(
        "NUL bytes and control characters as gender",
        "/v1/rate",
        _json({"instances": [_b64(valid_photo())], "gender": "m\x00\r\nX-Injected: 1"}),
        JSON,
        frozenset({404, 422}),
    ),
    BadRequest(
        "path traversal as model name",
        "/v1/rate",
        _json({"instances": [_b64(valid_photo())], "model": "../../../etc/passwd"}),
        JSON,
        frozenset({404}),
    ),
    BadRequest(
        "body that is not UTF-8", "/v1/rate", lambda: b'\xff\xfe{\x00"\x00', JSON, frozenset({400})
    ),
    BadRequest(
        "JSON that is a bare number", "/v1/rate", lambda: b"1e999999", JSON, frozenset({400, 422})
    ),
    BadRequest(
        "JSON with NaN", "/man/predict", lambda: b'{"instances": NaN}', JSON, frozenset({400, 422})
    ),
    BadRequest(
        "multipart without a boundary",
        "/v1/rate",
        _photo_parts(("gender", None, b"m")),
        {"content-type": "multipart/form-data"},
        frozenset({400}),
    ),
    BadRequest(
        "multipart with a wrong boundary",
        "/v1/rate",
        _photo_parts(("gender", None, b"m")),
        {"content-type": "multipart/form-data; boundary=other"},
        frozenset({400}),
    ),
    BadRequest(
        "multipart with 5,000 parts",
        "/v1/rate",
        lambda: multipart([("gender", None, b"m")] * 5000),
        MULTIPART,
        frozenset({400, 413}),
    ),
    BadRequest(
        "a photo posted as text/plain",
        "/v1/rate",
        valid_photo,
        {"content-type": "text/plain"},
        frozenset({415}),
    ),
    BadRequest(
        "XML posted to the seed route",
        "/man/predict",
        lambda: b"<instances/>",
        {"content-type": "application/xml"},
        frozenset({422}),  # the seed's answer to any body it cannot take
    ),
    BadRequest(
        "17 photos (over the count limit)",
        "/v1/rate",
        lambda: json.dumps(
            {"instances": [_b64(_encode(_small_rgb(8), "PNG"))] * 17, "gender": "m"}
        ).encode(),
        JSON,
        frozenset({413}),
    ),
    BadRequest(
        "a body over the size limit",
        "/man/predict",
        lambda: b'{"instances": ["' + b"A" * (4 * 1024 * 1024) + b'"]}',
        JSON,
        frozenset({413}),
    ),
    BadRequest(
        "a lying Content-Length",
        "/man/predict",
        lambda: b'{"instances": []}',
        {**JSON, "content-length": "999999999999"},
        frozenset({413}),
    ),
    BadRequest(
        "a non-numeric Content-Length",
        "/man/predict",
        lambda: b'{"instances": []}',
        {**JSON, "content-length": "12abc"},
        frozenset({400}),
    ),
]
