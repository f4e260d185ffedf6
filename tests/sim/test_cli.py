"""`madina demo` and `madina sim` options: refused before anything starts when they are wrong."""

from __future__ import annotations

import pytest

from madina.cli import build_parser, main


@pytest.mark.parametrize("speed", ["0", "-5", "1e9", "fast"])
def test_demo_refuses_a_speed_that_is_not_a_positive_number(speed, capsys) -> None:
    with pytest.raises(SystemExit):
        build_parser().parse_args(["demo", "--speed", speed])


def test_demo_takes_speed_seed_and_data_dir() -> None:
    args = build_parser().parse_args(["demo", "--speed", "600", "--seed", "7",
                                      "--data-dir", "/tmp/city"])
    assert (args.speed, args.seed, args.data_dir) == (600.0, 7, "/tmp/city")
    defaults = build_parser().parse_args(["demo"])
    assert (defaults.speed, defaults.seed, defaults.data_dir) == (60.0, 1026, None)


def test_demo_refuses_a_database_and_a_data_directory_together(capsys) -> None:
    assert main(["demo", "--db", "a.db", "--data-dir", "b"]) == 1
    assert "not both" in capsys.readouterr().err


def test_sim_run_needs_an_admin_token(monkeypatch, capsys) -> None:
    monkeypatch.delenv("MADINA_ADMIN_TOKEN", raising=False)
    assert main(["sim", "run", "--duration", "1"]) == 1
    assert "admin token" in capsys.readouterr().err
