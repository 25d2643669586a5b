"""Atomic writes: complete file or the old one, never a half-written one; inputs are protected."""

import pytest

from fewlabel.atomic import atomic_path, check_not_input, write_text_atomic
from fewlabel.errors import InputError


def test_failed_write_leaves_old_file_and_no_temp(tmp_path):
    target = tmp_path / "picks.tsv"
    write_text_atomic(target, "old\n")
    with pytest.raises(RuntimeError):
        with atomic_path(target) as tmp:
            tmp.write_text("half")
            raise RuntimeError("crash mid-write")
    assert target.read_text() == "old\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["picks.tsv"]


def test_temp_keeps_extension_for_format_inference(tmp_path):
    with atomic_path(tmp_path / "a" / "m.mrc") as tmp:
        assert tmp.suffix == ".mrc" and tmp.parent == tmp_path / "a"
        tmp.write_bytes(b"x")
    assert (tmp_path / "a" / "m.mrc").read_bytes() == b"x"


def test_check_not_input(tmp_path):
    src = tmp_path / "in.star"
    src.write_text("data_\n")
    with pytest.raises(InputError, match="refusing to overwrite"):
        check_not_input(src, [src])
    check_not_input(tmp_path / "out.star", [src])  # a different file is fine


def test_outputs_get_normal_permissions_not_mkstemp_0600(tmp_path):
    import os

    mask = os.umask(0o022)
    os.umask(mask)
    write_text_atomic(tmp_path / "out.tsv", "x\n")
    mode = (tmp_path / "out.tsv").stat().st_mode & 0o777
    assert mode == 0o666 & ~mask
