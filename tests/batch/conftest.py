"""Fixtures for the batch scoring tests: a folder of photos with broken files, a loaded Rater."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest
from PIL import Image, ImageOps

from prettymeter.inference import Rater
from prettymeter.scoring import probe_photos

CLI = str(Path(sys.executable).with_name("pretty-meter"))
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


@pytest.fixture(scope="session")
def photo_folder(tmp_path_factory: pytest.TempPathFactory, man_png: Path, woman_jpg: Path) -> Path:
    """~35 photos in sub-folders: real faces and their variants (scored), drawn faces, two
    people side by side, broken files; plus files `rate` must not pick up."""
    root = tmp_path_factory.mktemp("collection") / "photos"
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


@pytest.fixture(scope="session")
def model_dir(model_dirs: dict[str, Path]) -> Path:
    """A small exported model trained on person crops (detector mtcnn, crop 96, input 64)."""
    return model_dirs["man"]


@pytest.fixture(scope="session")
def rater(model_dir: Path) -> Rater:
    return Rater(model_dir, engine="onnxruntime")
