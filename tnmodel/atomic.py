"""Write a folder or a file all at once: into a temporary sibling, renamed into place when
complete, so a failed write never leaves a half-written result."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def atomic_folder(final: Path | str) -> Iterator[Path]:
    """Yield a temporary folder beside ``final``; on success it replaces ``final``.

    On any error the temporary folder is removed and ``final`` is left as it was, so a
    failed write never leaves a half-written result.
    """
    final = Path(final)
    final.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{final.name}-", dir=final.parent))
    try:
        yield staging
        if final.exists():
            shutil.rmtree(final)
        staging.rename(final)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


@contextmanager
def atomic_file(final: Path | str) -> Iterator[Path]:
    """Yield a temporary path beside ``final`` (same suffix); on success it replaces ``final``.

    On any error the temporary file is removed and ``final`` is left as it was. The file gets
    the usual permissions (rw-r--r--), not the private ones of a temporary file.
    """
    final = Path(final)
    final.parent.mkdir(parents=True, exist_ok=True)
    handle, name = tempfile.mkstemp(prefix=f".{final.stem}-", suffix=final.suffix,
                                    dir=final.parent)
    os.close(handle)
    staging = Path(name)
    try:
        yield staging
        staging.chmod(0o644)
        os.replace(staging, final)
    except BaseException:
        staging.unlink(missing_ok=True)
        raise
