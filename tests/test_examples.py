"""The worked examples in examples/ run as written, on the demo model."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

from PIL import Image, ImageOps

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def test_rate_folder_rates_a_folder_and_saves_the_worst_and_best(
    demo_models: dict[str, Path], man_png: Path, woman_jpg: Path, tmp_path: Path
) -> None:
    folder = tmp_path / "photos"
    (folder / "more").mkdir(parents=True)
    shutil.copy(man_png, folder)
    shutil.copy(woman_jpg, folder / "more")
    ImageOps.mirror(Image.open(man_png)).save(folder / "mirrored.png")
    Image.open(woman_jpg).resize((160, 120)).save(folder / "more" / "small.jpg")
    (folder / "broken.jpg").write_text("not a photo")
    figure = tmp_path / "rated.png"

    example = [sys.executable, str(EXAMPLES / "rate_folder.py"), str(demo_models["man"])]
    done = subprocess.run(
        [*example, str(folder), "--out", str(figure), "--show", "2"],
        capture_output=True,
        text=True,
        timeout=300,
    )

    assert done.returncode == 0, done.stderr[-2000:]
    lines = done.stdout.splitlines()
    assert "demo model" in lines[1]
    assert sum("/10, percentile" in line for line in lines) == 4
    assert any("broken.jpg: not scored (not_an_image" in line for line in lines)
    with Image.open(figure) as saved:
        assert saved.format == "PNG" and saved.width >= 400 and saved.height >= 400
