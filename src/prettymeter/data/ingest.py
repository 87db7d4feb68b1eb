"""The ingest stage: a folder of rated photos → one Parquet table, streamed in row groups."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import sys
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from prettymeter.contract import INGEST_METADATA_KEY
from prettymeter.errors import ImageError, PrettyMeterError
from prettymeter.io import atomic_path, ensure_new_output
from prettymeter.labels import LabelError, parse_name
from prettymeter.photo import inspect_image, walk_files
from prettymeter.tables import INGEST_SCHEMA, BatchWriter

FORMATS = ("filenames", "scut-fbp5500")
SHOWN_REJECTS = 100  # listed on stderr; every one is in the rejects CSV
SCUT_VOICES = 60
# The table's schema carries this key through dedupe, detect and normalize (each stage keeps the
# upstream stages' keys): training and its reports read the dataset's own rate scale from it.
# SCUT-FBP5500 scores 1..5 are stored as rates 0..10 (linear); reports map them back.
RATE_SCALES = {
    "filenames": {"name": "rate", "lo": 0.0, "hi": 10.0},
    "scut-fbp5500": {"name": "SCUT-FBP5500 score", "lo": 1.0, "hi": 5.0},
}
SCUT_LABELS = Path("train_test_files") / "All_labels.txt"
SCUT_SPLIT_DIR = Path("train_test_files") / "split_of_60%training and 40%testing"
SCUT_FOLDS_DIR = Path("train_test_files") / "5_folders_cross_validations_files"
SCUT_PREFIXES = {
    "AF": ("w", "asian"),
    "AM": ("m", "asian"),
    "CF": ("w", "caucasian"),
    "CM": ("m", "caucasian"),
}


def rejects_path(dst: Path) -> Path:
    """The sidecar that lists every rejected file: `raw.parquet` → `raw.rejects.csv`."""
    return dst.with_suffix(".rejects.csv")


@dataclass
class _Candidate:
    path: str
    labels: dict[str, Any]


def _filename_candidates(ds: Path, rejects: list[tuple[str, str]]) -> list[_Candidate]:
    files, skipped = walk_files(ds)
    rejects.extend(skipped)
    candidates = []
    for rel in files:
        try:
            labels = parse_name(Path(rel).name)
        except LabelError as exc:
            rejects.append((rel, exc.reason))
            continue
        candidates.append(
            _Candidate(
                rel,
                {
                    "uuid": labels.uuid,
                    "gender": labels.gender,
                    "country": labels.country,
                    "rate": labels.rate,
                    "voices": labels.voices,
                    "split": None,
                    "cv_fold": None,
                },
            )
        )
    return candidates


def _read_name_list(path: Path) -> list[str]:
    """First token of each non-empty line of a SCUT-FBP5500 list file (`AF1.jpg 3.1`)."""
    names = []
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        parts = line.split()
        if parts:
            names.append(parts[0])
    return names


def _scut_candidates(ds: Path, rejects: list[tuple[str, str]]) -> list[_Candidate]:
    labels_file = ds / SCUT_LABELS
    if not labels_file.is_file():
        raise PrettyMeterError(
            f"{labels_file} not found; --format scut-fbp5500 expects the dataset's own layout "
            "(Images/ and train_test_files/All_labels.txt under --ds)"
        )
    split: dict[str, str] = {}
    for name in ("train", "test"):
        list_file = ds / SCUT_SPLIT_DIR / f"{name}.txt"
        if list_file.is_file():
            split.update(dict.fromkeys(_read_name_list(list_file), name))
    cv_fold: dict[str, int] = {}
    for fold in range(1, 6):
        list_file = ds / SCUT_FOLDS_DIR / f"cross_validation_{fold}" / f"test_{fold}.txt"
        if list_file.is_file():
            cv_fold.update(dict.fromkeys(_read_name_list(list_file), fold))

    labelled: dict[str, float] = {}
    for number, line in enumerate(
        labels_file.read_text(encoding="utf-8", errors="replace").splitlines(), start=1
    ):
        parts = line.split()
        if not parts:
            continue
        where = f"{SCUT_LABELS.as_posix()}:{number}"
        if len(parts) != 2:
            rejects.append((where, f"2 fields expected (name score), found {len(parts)}"))
            continue
        name, score_text = parts
        try:
            score = float(score_text)
        except ValueError:
            rejects.append((where, f"score '{score_text}' is not a number"))
            continue
        if not 1.0 <= score <= 5.0:
            rejects.append((where, f"score {score_text} is outside 1..5"))
            continue
        labelled[name] = score

    images_dir = ds / "Images"
    present = (
        {p.name for p in images_dir.iterdir() if p.is_file()} if images_dir.is_dir() else set()
    )
    candidates = []
    for name in sorted(present - set(labelled)):
        reason = "hidden file" if name.startswith(".") else "no score in All_labels.txt"
        rejects.append((f"Images/{name}", reason))
    for name in sorted(labelled):
        rel = f"Images/{name}"
        if name not in present:
            rejects.append((rel, "listed in All_labels.txt but the file is missing"))
            continue
        prefix = name[:2].upper()
        if prefix not in SCUT_PREFIXES:
            rejects.append((rel, f"prefix '{name[:2]}' is not AF, AM, CF or CM"))
            continue
        gender, country = SCUT_PREFIXES[prefix]
        candidates.append(
            _Candidate(
                rel,
                {
                    "uuid": Path(name).stem,
                    "gender": gender,
                    "country": country,
                    # 1..5 mapped linearly onto 0..10
                    "rate": round((labelled[name] - 1.0) / 4.0 * 10.0, 6),
                    "voices": SCUT_VOICES,
                    "split": split.get(name),
                    "cv_fold": cv_fold.get(name),
                },
            )
        )
    return candidates


def _rows(
    ds: Path, candidates: list[_Candidate], rejects: list[tuple[str, str]]
) -> Iterator[dict[str, Any]]:
    from prettymeter.console import track

    for candidate in track(candidates, "ingest", total=len(candidates)):
        try:
            data = (ds / candidate.path).read_bytes()
        except OSError as exc:
            rejects.append((candidate.path, f"cannot be read ({exc.strerror or exc})"))
            continue
        try:
            facts = inspect_image(data)
        except ImageError as exc:
            rejects.append((candidate.path, f"{exc.code}: {exc}"))
            continue
        yield {
            "path": candidate.path,
            **candidate.labels,
            "image": data,
            "sha256": hashlib.sha256(data).hexdigest(),
            "width": facts.width,
            "height": facts.height,
            "format": facts.format,
            "phash": facts.phash,
        }


def _check_rejects_sidecar(path: Path) -> None:
    """A rejects CSV left by an earlier run for the same output is ours to replace; any
    other file under that name is the user's and is never overwritten."""
    if not path.exists():
        return
    try:
        with open(path, encoding="utf-8") as handle:
            header = handle.readline().strip()
    except (OSError, UnicodeDecodeError):
        header = ""
    if header != "path,reason":
        raise PrettyMeterError(
            f"{path} exists and is not a pretty-meter rejects list; move it or choose another --dst"
        )


def _write_rejects(path: Path, rejects: list[tuple[str, str]]) -> None:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["path", "reason"])
    writer.writerows(rejects)
    with atomic_path(path) as tmp:
        tmp.write_text(buffer.getvalue(), encoding="utf-8")


def _report_rejects(rejects: list[tuple[str, str]], csv_path: Path) -> None:
    for path, reason in rejects[:SHOWN_REJECTS]:
        print(f"rejected: {path}: {reason}", file=sys.stderr)
    if len(rejects) > SHOWN_REJECTS:
        print(
            f"rejected: … and {len(rejects) - SHOWN_REJECTS} more, all listed in {csv_path}",
            file=sys.stderr,
        )


def ingest(
    ds: Path,
    dst: Path,
    *,
    strict: bool = False,
    fmt: str = "filenames",
    overwrite: bool = False,
) -> dict[str, Any]:
    """Read every photo under `ds` into `dst` (Parquet) and list every rejected file.

    Rejected files (bad name, hidden, not an image, damaged) go to stderr and to
    `dst.rejects.csv`; they are skipped, or with `strict` nothing is written and the run fails.
    Returns the summary.
    """
    started = time.perf_counter()
    ds, dst = Path(ds), Path(dst)
    if fmt not in FORMATS:
        raise PrettyMeterError(f"--format {fmt!r} is unknown; use one of {', '.join(FORMATS)}")
    if not ds.is_dir():
        raise PrettyMeterError(f"dataset folder {ds} does not exist; give the folder of photos")
    csv_path = rejects_path(dst)
    ensure_new_output(dst, overwrite)
    _check_rejects_sidecar(csv_path)

    rejects: list[tuple[str, str]] = []
    candidates = (
        _scut_candidates(ds, rejects)
        if fmt == "scut-fbp5500"
        else _filename_candidates(ds, rejects)
    )
    if strict and rejects:
        _report_rejects(rejects, csv_path)
        _write_rejects(csv_path, rejects)
        raise PrettyMeterError(
            f"{len(rejects)} file(s) rejected (first: {rejects[0][0]}: {rejects[0][1]}); "
            f"fix them or run without --strict to skip them (all listed in {csv_path})"
        )

    genders: Counter[str] = Counter()
    with atomic_path(dst) as tmp:
        source = {"format": fmt, "rate_scale": RATE_SCALES[fmt]}
        schema = INGEST_SCHEMA.with_metadata({INGEST_METADATA_KEY: json.dumps(source).encode()})
        writer = BatchWriter(tmp, schema)
        try:
            for row in _rows(ds, candidates, rejects):
                if strict and rejects:
                    break
                genders[row["gender"]] += 1
                writer.add(row, size=len(row["image"]))
        finally:
            writer.close(metadata={"stage": "ingest", "format": fmt, "ds": str(ds)})
        _report_rejects(rejects, csv_path)
        _write_rejects(csv_path, rejects)
        if strict and rejects:
            raise PrettyMeterError(
                f"{rejects[-1][0]}: {rejects[-1][1]}; fix it or run without --strict to skip "
                f"rejected files (all listed in {csv_path})"
            )
        if writer.rows_written == 0:
            raise PrettyMeterError(
                f"no usable photo under {ds} ({len(rejects)} file(s) rejected, listed in "
                f"{csv_path}); name photos as <uuid>_<gender>_<country>_<rate>_<voices>.<ext>"
            )
    seconds = time.perf_counter() - started
    reasons = Counter(reason.split()[0].rstrip(":") for _, reason in rejects)
    return {
        "dst": str(dst),
        "format": fmt,
        "images": writer.rows_written,
        "men": genders["m"],
        "women": genders["w"],
        "rejected": len(rejects),
        "rejected_by_kind": dict(reasons.most_common(5)),
        "rejects_csv": str(csv_path),
        "seconds": round(seconds, 2),
        "images_per_s": round(writer.rows_written / seconds, 1) if seconds > 0 else None,
    }
