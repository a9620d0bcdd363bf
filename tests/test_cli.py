"""The command line: listing, and every bad request failing fast with the valid choices."""

import pytest

from initlab import cli, settings


def test_list_shows_studies_profiles_and_settings(capsys):
    assert cli.main(["list"]) == 0
    out = capsys.readouterr().out
    assert "01_warm_start" in out and "smoke" in out and "dataset=digits" in out


@pytest.mark.parametrize("argv, message", [
    (["run", "01_warm", "--profile", "smoke"],
     "unknown study '01_warm'; choose from 01_warm_start"),
    (["run", "--profile", "fast"], "unknown profile 'fast'; choose one of smoke, quick, paper"),
    (["run", "-p", "iteration", "3"], "unknown parameter 'iteration'"),
    (["run", "-p", "iterations", "many"], "'iterations' wants a whole number"),
    (["render", "--device", "tpu"], "unknown device 'tpu'"),
])
def test_bad_requests_exit_2_with_a_clear_message(argv, message, capsys):
    assert cli.main(argv) == 2
    assert message in capsys.readouterr().err


def test_data_check_reports_presence(capsys, monkeypatch, tmp_path):
    monkeypatch.setenv("INITLAB_DATA", str(tmp_path))
    assert cli.main(["data", "check", "digits", "mnist"]) == 0
    out = capsys.readouterr().out
    assert "digits" in out and "present" in out
    assert "mnist" in out and "MISSING" in out and str(tmp_path) in out


def test_values_on_the_command_line_keep_their_meaning():
    assert settings.parse_value("3") == 3 and settings.parse_value("0.5") == 0.5
    assert settings.parse_value("off") == "off" and settings.parse_value("yes") == "yes"
    assert settings.parse_value("true") is True and settings.parse_value("False") is False
    assert settings.parse_value("blur,gaussian") == "blur,gaussian"
