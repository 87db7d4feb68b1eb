"""The one file-name label parser: `<uuid>_<gender>_<country>_<rate>_<voices>.<extension>`."""

from __future__ import annotations

import re
from dataclasses import dataclass

from prettymeter.errors import PrettyMeterError
from prettymeter.imaging import IMAGE_EXTENSIONS

NAME_FORMAT = "<uuid>_<gender>_<country>_<rate>_<voices>.<extension>"
GENDERS = ("m", "w")
RATE_MIN = 0.0
RATE_MAX = 10.0
UNKNOWN_COUNTRY = "unknown"

_DECIMAL = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)$")
_INTEGER = re.compile(r"^[+-]?\d+$")


class LabelError(PrettyMeterError):
    """A file name that breaks the dataset format; `reason` is the exact rule it breaks."""

    def __init__(self, name: str, reason: str) -> None:
        super().__init__(f"{name}: {reason}; rename it as {NAME_FORMAT}")
        self.name = name
        self.reason = reason


@dataclass(frozen=True)
class Labels:
    """What a well-formed file name says about its photo."""

    uuid: str
    gender: str
    country: str
    rate: float
    voices: int
    extension: str


def split_extension(name: str) -> tuple[str, str]:
    """`a_b.JPG` → (`a_b`, `.jpg`); no extension → (name, "")."""
    stem, dot, ext = name.rpartition(".")
    if not dot or not stem or not ext.isalnum():
        return name, ""
    return stem, "." + ext.lower()


def parse_name(name: str) -> Labels:
    """Parse a file name (not a path); raise LabelError with the exact reason it is refused."""
    if name.startswith("."):
        raise LabelError(name, "hidden file")
    stem, ext = split_extension(name)
    if not ext:
        raise LabelError(name, "no file extension; expected an image such as .jpg or .png")
    if ext not in IMAGE_EXTENSIONS:
        raise LabelError(
            name,
            f"extension '{ext}' is not an image type ({', '.join(sorted(IMAGE_EXTENSIONS))})",
        )
    fields = stem.split("_")
    if len(fields) != 5:
        raise LabelError(name, f"5 fields expected, found {len(fields)}")
    uuid, gender, country, rate_text, voices_text = fields
    if not uuid:
        raise LabelError(name, "uuid is empty")
    if gender not in GENDERS:
        raise LabelError(name, f"gender '{gender}' is not m or w")
    if not country:
        raise LabelError(name, "country is empty")
    if not _DECIMAL.match(rate_text):
        raise LabelError(name, f"rate '{rate_text}' is not a number")
    rate = float(rate_text)
    if rate > RATE_MAX:
        raise LabelError(name, f"rate {rate_text} is above {RATE_MAX}")
    if rate < RATE_MIN:
        raise LabelError(name, f"rate {rate_text} is below {RATE_MIN}")
    if not _INTEGER.match(voices_text) or int(voices_text) < 1:
        raise LabelError(name, f"voices '{voices_text}' is not a positive integer")
    return Labels(uuid, gender, country, rate, int(voices_text), ext)


def format_name(
    uuid: str, gender: str, country: str, rate: float, voices: int, extension: str
) -> str:
    """The file name for these labels (rate with one decimal, as the datasets write it)."""
    return f"{uuid}_{gender}_{country}_{rate:.1f}_{voices}{extension}"
