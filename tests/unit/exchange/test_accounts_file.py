"""`hftui exchange --accounts-file`: accounts from a private file instead of argv."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from hftui.exchange.main import read_accounts_file


def private(path: Path, text: str) -> Path:
    path.write_text(text)
    path.chmod(0o600)
    return path


def test_accounts_are_read_with_comments_and_blank_lines_skipped(tmp_path: Path) -> None:
    path = private(tmp_path / "accounts", "# the soak's\nkey-a:secret-a\n\n  key-b:sec:ret  \n")
    assert read_accounts_file(path) == (("key-a", "secret-a"), ("key-b", "sec:ret"))


@pytest.mark.parametrize(
    ("text", "mode", "error"),
    [
        ("key-a:secret-a\n", 0o644, "open to others (mode 644); chmod 600 it"),
        ("key-a:secret-a\nnot an account\n", 0o600, "line 2: expected KEY:SECRET"),
        ("key-a:\n", 0o600, "line 1: expected KEY:SECRET"),
        ("# nothing\n\n", 0o600, "no KEY:SECRET line in it"),
    ],
)
def test_a_bad_accounts_file_is_a_clear_error(
    tmp_path: Path, text: str, mode: int, error: str
) -> None:
    path = tmp_path / "accounts"
    path.write_text(text)
    path.chmod(mode)
    with pytest.raises(ValueError, match=re.escape(error)) as info:
        read_accounts_file(path)
    assert "not an account" not in str(info.value)  # a line's text never shows: a secret


def test_a_missing_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="No such file or directory"):
        read_accounts_file(tmp_path / "absent")


def test_the_cli_refuses_a_file_open_to_others_without_starting(tmp_path: Path) -> None:
    path = tmp_path / "accounts"
    path.write_text("key-a:secret-a\n")
    path.chmod(0o640)
    done = subprocess.run(
        [sys.executable, "-m", "hftui", "exchange", "--port", "0", "--accounts-file", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode != 0
    assert "open to others (mode 640)" in done.stderr
    assert "secret-a" not in done.stderr + done.stdout
