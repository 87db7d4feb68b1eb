"""A group photo made of the real fixtures: faces of known places and sizes (faces=all)."""

from __future__ import annotations

from PIL import Image

from tests.support.paths import DATA
from tests.support.photos import man_photo


def group_photo() -> tuple[Image.Image, list[tuple[int, int, int, int]]]:
    """The two fixtures side by side, a smaller copy of the man and a tiny one (a face under
    the rule's 8 % minimum): the photo and where each copy was pasted, largest face first."""
    man = man_photo()
    woman = Image.open(DATA / "woman.jpg").convert("RGB")
    woman = woman.resize((round(woman.width * 2.5), round(woman.height * 2.5)))  # 800 × 600
    small = man.resize((300, 360))
    tiny = man.resize((125, 150))
    canvas = Image.new("RGB", (1600, 600), (235, 235, 235))
    places = [(500, 0), (0, 0), (1300, 240), (1320, 40)]  # woman, man, small, tiny
    for image, at in zip((woman, man, small, tiny), places, strict=True):
        canvas.paste(image, at)
    regions = [
        (x, y, x + image.width, y + image.height)
        for image, (x, y) in zip((woman, man, small, tiny), places, strict=True)
    ]
    return canvas, regions
