"""Atomic writes: a file is either the old one or the complete new one, never half-written; and file locks."""

import json
import os
import stat

import pytest

from dropkey_lib.files import FileLocked, atomic_path, exclusive_lock, remove_interrupted_writes, save_json


def test_save_json_writes_readable_json(tmp_path):
    save_json({"a": [1, 2]}, tmp_path / "sub" / "x.json")
    assert json.loads((tmp_path / "sub" / "x.json").read_text()) == {"a": [1, 2]}


def test_a_failed_write_leaves_the_old_file_and_no_temporary_file(tmp_path):
    target = tmp_path / "x.json"
    save_json({"version": 1}, target)
    with pytest.raises(RuntimeError):
        with atomic_path(target) as tmp:
            tmp.write_text('{"version": 2, "trunc')
            raise RuntimeError("interrupted")
    assert json.loads(target.read_text()) == {"version": 1}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["x.json"]


def test_written_files_get_the_permissions_of_a_normal_write(tmp_path):
    umask = os.umask(0o022)
    try:
        save_json({}, tmp_path / "x.json")
        (tmp_path / "plain.txt").write_text("")
    finally:
        os.umask(umask)
    mode = stat.S_IMODE((tmp_path / "x.json").stat().st_mode)
    assert mode == stat.S_IMODE((tmp_path / "plain.txt").stat().st_mode) == 0o644


def test_remove_interrupted_writes_deletes_only_the_temporary_files_of_atomic_writes(tmp_path):
    save_json({}, tmp_path / "x.json")
    (tmp_path / ".x.json.k2jd8s.tmp").write_text('{"trunc')  # what a write killed in its block leaves
    remove_interrupted_writes(tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["x.json"]


def test_an_exclusive_lock_refuses_a_second_holder_naming_the_first_until_it_is_released(tmp_path):
    with exclusive_lock(tmp_path / "x.lock"):
        with pytest.raises(FileLocked) as refused:
            with exclusive_lock(tmp_path / "x.lock"):
                pass
        assert refused.value.holder == os.getpid()
    with exclusive_lock(tmp_path / "x.lock"):
        pass
