"""Folders of photos to rate: the batch tests' mixed collection, the batch benchmark's faces."""

from __future__ import annotations

import shutil
from pathlib import Path

from PIL import Image, ImageOps

from prettymeter.probes import probe_photos
from tests.support.paths import DATA

# The files of `photo_folder` that are not photos a decoder can read.
BROKEN = {"broken/empty.jpg", "broken/truncated.jpg", "broken/text.jpg"}


def variants(photo: Image.Image) -> dict[str, Image.Image]:
    """The same real face photo changed the ways a collection holds it."""
    w, h = photo.size
    return {
        "half": photo.resize((w // 2, h // 2)),
        "mirrored": ImageOps.mirror(photo),
        "gray": photo.convert("L"),
        "cropped": photo.crop((w // 10, 0, w - w // 10, h - h // 10)),
        "padded": ImageOps.expand(photo, border=w // 5, fill=(40, 90, 160)),
        "small": photo.resize((w // 3, h // 3)),
    }


def photo_folder(root: Path) -> Path:
    """~35 photos in sub-folders of `root`: real faces and their variants (scored), drawn faces,
    two people side by side, broken files; plus files `rate` must not pick up."""
    man_png, woman_jpg = DATA / "man.png", DATA / "woman.jpg"
    for name, source in (("man", man_png), ("woman", woman_jpg)):
        folder = root / name
        folder.mkdir(parents=True)
        shutil.copy(source, folder / source.name)
        photo = Image.open(source).convert("RGB")
        for kind, image in variants(photo).items():
            image.save(folder / f"{kind}.jpg", quality=85)
    (root / "drawn").mkdir()
    for i, drawn in enumerate(probe_photos(12, seed=3)):
        drawn.save(root / "drawn" / f"d{i:02d}.png")
    man, woman = Image.open(man_png).convert("RGB"), Image.open(woman_jpg).convert("RGB")
    woman = woman.resize((woman.width * man.height // woman.height, man.height))
    pair = Image.new("RGB", (man.width + woman.width, man.height))
    pair.paste(man, (0, 0))
    pair.paste(woman, (man.width, 0))
    pair.save(root / "pair.webp")
    (root / "broken").mkdir()
    (root / "broken" / "empty.jpg").write_bytes(b"")
    (root / "broken" / "truncated.jpg").write_bytes(woman_jpg.read_bytes()[:2000])
    (root / "broken" / "text.jpg").write_text("not a photo\n")
    (root / "notes.txt").write_text("not looked at: not an image extension\n")
    (root / ".hidden").mkdir()
    shutil.copy(man_png, root / ".hidden" / "skipped.png")
    return root


def face_jpegs(folder: Path, count: int) -> list[Path]:
    """`count` JPEGs made from the fixture faces, resized, mirrored, padded and recompressed:
    every one has a person to find (kept in `folder`: made again only for another count)."""
    photos = sorted(folder.glob("*.jpg"))
    if len(photos) == count:
        return photos
    folder.mkdir(parents=True, exist_ok=True)
    for old in photos:
        old.unlink()
    faces = [Image.open(DATA / name).convert("RGB") for name in ("man.png", "woman.jpg")]
    for i in range(count):
        face = faces[i % 2]
        scale = 0.6 + 0.1 * (i % 7)
        image = face.resize((int(face.width * scale), int(face.height * scale)))
        if i % 3 == 1:
            image = ImageOps.mirror(image)
        if i % 5 == 2:
            image = ImageOps.expand(image, border=image.width // 6, fill=(30 + i % 200, 90, 140))
        image.save(folder / f"{i:05d}.jpg", quality=70 + i % 25)
    return sorted(folder.glob("*.jpg"))
