"""multipart/form-data parsed in memory (Starlette spools big uploads to temp files; photos never
touch the disk here)."""

from __future__ import annotations

from dataclasses import dataclass, field

from python_multipart.exceptions import FormParserError
from python_multipart.multipart import MultipartParser, parse_options_header

from prettymeter.errors import PrettyMeterError


@dataclass
class Part:
    name: str = ""
    filename: str | None = None
    content_type: str = ""
    data: bytearray = field(default_factory=bytearray)


@dataclass
class Form:
    files: list[Part]
    fields: dict[str, str]


FIELD_PARTS = 8  # text fields a form may have next to its photos (gender, model, ...)


class TooManyPartsError(PrettyMeterError):
    """More parts than `max_files` photos and a few fields: the photo limit, not a bad form."""


def parse_form(content_type: str, body: bytes, max_files: int) -> Form:
    """Split a multipart body into file parts (in order) and text fields; at most `max_files`
    photos' worth of parts are kept, the parsing stops at the first part past that."""
    max_parts = max_files + FIELD_PARTS
    _, params = parse_options_header(content_type)
    boundary = params.get(b"boundary")
    if not boundary:
        raise PrettyMeterError(
            "the multipart body has no boundary; let your HTTP client build the form"
        )
    parts: list[Part] = []
    header_name = bytearray()
    header_value = bytearray()
    headers: dict[bytes, bytes] = {}

    def on_part_begin() -> None:
        if len(parts) >= max_parts:
            raise TooManyPartsError(
                f"more than {max_parts} parts in the form, the limit is {max_files} photos per "
                f"request; send at most {max_files} photos per request"
            )
        parts.append(Part())
        headers.clear()

    def on_part_data(data: bytes, start: int, end: int) -> None:
        parts[-1].data += data[start:end]

    def on_header_field(data: bytes, start: int, end: int) -> None:
        header_name.extend(data[start:end])

    def on_header_value(data: bytes, start: int, end: int) -> None:
        header_value.extend(data[start:end])

    def on_header_end() -> None:
        headers[bytes(header_name).lower()] = bytes(header_value)
        header_name.clear()
        header_value.clear()

    def on_headers_finished() -> None:
        part = parts[-1]
        _, options = parse_options_header(headers.get(b"content-disposition", b""))
        part.name = options.get(b"name", b"").decode("utf-8", "replace")
        if b"filename" in options:
            part.filename = options[b"filename"].decode("utf-8", "replace")
        part.content_type = headers.get(b"content-type", b"").decode("latin-1")

    parser = MultipartParser(
        boundary,
        {
            "on_part_begin": on_part_begin,
            "on_part_data": on_part_data,
            "on_header_field": on_header_field,
            "on_header_value": on_header_value,
            "on_header_end": on_header_end,
            "on_headers_finished": on_headers_finished,
        },
    )
    try:
        parser.write(body)
        parser.finalize()
    except FormParserError as exc:
        raise PrettyMeterError(
            "the multipart body is malformed; send the photos as multipart/form-data files"
        ) from exc
    files = [p for p in parts if p.filename is not None]
    fields: dict[str, str] = {}
    for part in parts:
        if part.filename is None:
            if part.name in fields:  # 'gender=m&gender=w': refuse rather than guess which one
                raise PrettyMeterError(
                    f"the form field {part.name[:40]!r} is given more than once; send it once"
                )
            fields[part.name] = part.data.decode("utf-8", "replace")
    return Form(files=files, fields=fields)
