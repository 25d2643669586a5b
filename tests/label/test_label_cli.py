"""`fewlabel label`: option checks and a real server on loopback that demands the token."""

from __future__ import annotations

import urllib.error
import urllib.request
from urllib.parse import urlsplit

import pytest


def test_help_shows_examples(cli_runner):
    code, out, _ = cli_runner("label", "--help")
    assert code == 0
    assert "--micrographs" in out and "--diameter" in out and "fewlabel label --micrographs" in out


def test_output_must_not_be_the_input_picks(cli_runner, mic_dir, scored_picks):
    code, _, err = cli_runner("label", "--micrographs", mic_dir, "--picks", scored_picks,
                              "--diameter", 24, "-o", scored_picks)
    assert code == 2 and "error:" in err


def test_unknown_output_format_fails_before_serving(cli_runner, mic_dir, tmp_path):
    code, _, err = cli_runner("label", "--micrographs", mic_dir, "--diameter", 24,
                              "-o", tmp_path / "labels.docx")
    assert code == 2 and "labels.docx" in err
    assert not (tmp_path / "labels.docx").exists()


def test_empty_folder_is_an_input_error(cli_runner, tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    code, _, err = cli_runner("label", "--micrographs", empty, "--diameter", 24,
                              "-o", tmp_path / "l.star")
    assert code == 2 and "error:" in err


def test_server_listens_on_loopback_and_requires_token(label_server, mic_dir, tmp_path):
    url, _ = label_server("--micrographs", mic_dir, "--diameter", 24, "-o", tmp_path / "l.star")
    parts = urlsplit(url)
    assert parts.hostname == "127.0.0.1" and parts.port > 0
    token = parts.query.removeprefix("token=")
    assert len(token) >= 24
    with urllib.request.urlopen(url, timeout=10) as r:
        assert r.status == 200 and token in r.read().decode()
    with pytest.raises(urllib.error.HTTPError) as exc:
        urllib.request.urlopen(f"http://127.0.0.1:{parts.port}/api/session", timeout=10)
    assert exc.value.code == 403
