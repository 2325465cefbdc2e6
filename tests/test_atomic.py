"""tnmodel.atomic: a folder or a file is replaced whole or not at all."""

from __future__ import annotations

import pytest

from tnmodel.atomic import atomic_file, atomic_folder


def test_a_failed_write_leaves_the_old_folder_and_no_staging(tmp_path):
    final = tmp_path / "out" / "result"
    with atomic_folder(final) as staging:
        (staging / "a.csv").write_text("old")
    with pytest.raises(RuntimeError), atomic_folder(final) as staging:
        (staging / "a.csv").write_text("new, half written")
        raise RuntimeError("fit failed")
    assert (final / "a.csv").read_text() == "old"
    assert sorted(p.name for p in final.parent.iterdir()) == ["result"]


def test_a_complete_write_replaces_the_folder(tmp_path):
    final = tmp_path / "result"
    final.mkdir()
    (final / "stale.csv").write_text("from an earlier run")
    with atomic_folder(final) as staging:
        (staging / "a.csv").write_text("new")
    assert sorted(p.name for p in final.iterdir()) == ["a.csv"]


def test_a_file_is_replaced_whole_or_not_at_all(tmp_path):
    final = tmp_path / "out" / "sweep.csv"
    with atomic_file(final) as staging:
        assert staging.parent == final.parent and staging.suffix == ".csv"
        staging.write_text("old")
    with pytest.raises(RuntimeError), atomic_file(final) as staging:
        staging.write_text("new, half written")
        raise RuntimeError("disk full")
    assert final.read_text() == "old"
    assert [p.name for p in final.parent.iterdir()] == ["sweep.csv"]
    with atomic_file(final) as staging:
        staging.write_text("new")
    assert final.read_text() == "new" and final.stat().st_mode & 0o777 == 0o644
