"""Writing a file so that a reader sees the old contents or the new, never a part.

Run files, cluster.json, results.json, report.html and the xdist run directory are all read by
another process while they may be rewritten, and a run can be interrupted at any moment.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path


def write_atomic(path: Path, text: str, mode: int | None = None) -> None:
    """Write ``text`` to ``path`` through a temporary file in the same folder and ``os.replace``.

    The temporary file is private (0600) like ``mkstemp`` makes it unless ``mode`` is given; it is
    removed if writing fails, so an interrupted write leaves nothing behind.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        if mode is not None:
            os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
