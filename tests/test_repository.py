"""The repository itself: no merge left half done. A conflict marker once sat in site.css for a
whole release, silently dropping three rules' worth of styles."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MARKER = re.compile(rb"^(<{7} |={7}$|>{7} )", re.MULTILINE)


def tracked_files() -> list[Path]:
    listed = subprocess.run(
        ["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True
    ).stdout
    return [ROOT / name.decode() for name in listed.split(b"\0") if name]


def test_no_file_holds_a_merge_conflict_marker():
    found = []
    for path in tracked_files():
        if not path.is_file() or path.suffix in {".png", ".jpg", ".webp", ".ico", ".gz"}:
            continue
        data = path.read_bytes()
        if b"\0" in data[:1024]:
            continue  # binary
        for match in MARKER.finditer(data):
            line = data.count(b"\n", 0, match.start()) + 1
            found.append(f"{path.relative_to(ROOT)}:{line}")
    assert not found, f"merge conflict markers left in: {', '.join(found)}"
