"""``goat`` installed without the server extra says which extra to install."""

from __future__ import annotations

import builtins
from typing import Any

import pytest

from goat_app.cli import main


def test_a_command_without_its_extra_names_the_extra(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Any
) -> None:
    """With uvicorn missing, `goat api` exits 2 with one line naming goat[server]."""
    real_import = builtins.__import__

    def without_uvicorn(name: str, *args: Any, **kwargs: Any) -> Any:
        if name == "uvicorn":
            raise ModuleNotFoundError("No module named 'uvicorn'", name="uvicorn")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", without_uvicorn)
    monkeypatch.setenv("GOAT_DATA_DIR", str(tmp_path))

    assert main(["api"]) == 2
    assert "pip install 'goat[server]'" in capsys.readouterr().err
