"""load_settings: the environment wins over .env, sane defaults, numbers parsed."""
from __future__ import annotations

import pytest

from wiro.client import WiroClient
from wiro.settings import DEFAULT_BASE_URL, DEFAULT_SOCKET_URL, load_settings


def write_env(tmp_path, text: str):
    path = tmp_path / ".env"
    path.write_text(text)
    return path


def test_defaults_with_nothing_set(tmp_path) -> None:
    settings = load_settings({}, tmp_path / "absent.env")
    assert settings.api_key is None and settings.api_secret is None
    assert not settings.has_key
    # The default is Wiro's own API, over TLS (the tests never call it).
    assert settings.base_url == DEFAULT_BASE_URL
    assert DEFAULT_BASE_URL.startswith("https://") and DEFAULT_BASE_URL.endswith("/v1")
    assert settings.socket_url == DEFAULT_SOCKET_URL
    assert settings.poll_interval == 2.0
    assert settings.request_timeout == 30.0


def test_dotenv_file_is_read(tmp_path) -> None:
    path = write_env(tmp_path, "WIRO_API_KEY=file-key\nWIRO_API_SECRET=file-secret\n"
                               "WIRO_API_BASE_URL=http://127.0.0.1:9999/v1/\n"
                               "WIRO_POLL_INTERVAL=2.5\n")
    settings = load_settings({}, path)
    assert settings.api_key == "file-key" and settings.api_secret == "file-secret"
    assert settings.has_key
    assert settings.base_url == "http://127.0.0.1:9999/v1"  # trailing slash dropped
    assert settings.poll_interval == 2.5


def test_environment_wins_over_dotenv(tmp_path) -> None:
    path = write_env(tmp_path, "WIRO_API_KEY=file-key\nWIRO_API_SECRET=file-secret\n"
                               "WIRO_POLL_INTERVAL=5\n")
    settings = load_settings({"WIRO_API_KEY": "env-key", "WIRO_POLL_INTERVAL": "0.25"}, path)
    assert settings.api_key == "env-key"
    assert settings.api_secret == "file-secret"  # not in the environment: .env still counts
    assert settings.poll_interval == 0.25


def test_real_os_environ_wins(tmp_path, monkeypatch) -> None:
    path = write_env(tmp_path, "WIRO_API_KEY=file-key\n")
    monkeypatch.setenv("WIRO_API_KEY", "os-env-key")
    assert load_settings(dotenv_path=path).api_key == "os-env-key"


def test_default_dotenv_is_read_from_the_working_directory(tmp_path, monkeypatch) -> None:
    write_env(tmp_path, "WIRO_API_SECRET=cwd-secret\n")
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("WIRO_API_SECRET", raising=False)
    assert load_settings().api_secret == "cwd-secret"


def test_blank_values_mean_unset(tmp_path) -> None:
    settings = load_settings({"WIRO_API_KEY": "  ", "WIRO_API_SECRET": "",
                              "WIRO_POLL_INTERVAL": " "}, tmp_path / "absent.env")
    assert settings.api_key is None and settings.api_secret is None
    assert settings.poll_interval == 2.0


def test_key_and_secret_are_trimmed(tmp_path) -> None:
    settings = load_settings({"WIRO_API_KEY": " k \n", "WIRO_API_SECRET": "\ts "},
                             tmp_path / "absent.env")
    assert (settings.api_key, settings.api_secret) == ("k", "s")


@pytest.mark.parametrize(("raw", "expected"), [("0", 0.0), ("0.5", 0.5), (" 3 ", 3.0),
                                                ("1e-1", 0.1)])
def test_poll_interval_parsing(tmp_path, raw, expected) -> None:
    assert load_settings({"WIRO_POLL_INTERVAL": raw},
                         tmp_path / "absent.env").poll_interval == expected


@pytest.mark.parametrize("raw", ["fast", "-1", "nan", "1s"])
def test_bad_poll_interval_names_the_variable(tmp_path, raw) -> None:
    with pytest.raises(ValueError, match="WIRO_POLL_INTERVAL"):
        load_settings({"WIRO_POLL_INTERVAL": raw}, tmp_path / "absent.env")


def test_request_timeout_parsing(tmp_path) -> None:
    assert load_settings({"WIRO_REQUEST_TIMEOUT": "12"},
                         tmp_path / "absent.env").request_timeout == 12.0
    with pytest.raises(ValueError, match="WIRO_REQUEST_TIMEOUT"):
        load_settings({"WIRO_REQUEST_TIMEOUT": "soon"}, tmp_path / "absent.env")


def test_settings_repr_hides_credentials(tmp_path) -> None:
    settings = load_settings({"WIRO_API_KEY": "CANARY-KEY-1234",
                              "WIRO_API_SECRET": "CANARY-SECRET-5678"}, tmp_path / "absent.env")
    assert "CANARY" not in repr(settings) and "CANARY" not in str(settings)


def test_client_from_settings(tmp_path) -> None:
    settings = load_settings({"WIRO_API_KEY": "k", "WIRO_API_BASE_URL": "http://h:1/v1/",
                              "WIRO_POLL_INTERVAL": "0.1"}, tmp_path / "absent.env")
    with WiroClient.from_settings(settings) as client:
        assert client.base_url == "http://h:1/v1"
        assert client.poll_interval == 0.1
        assert "signed=False" in repr(client)


def test_client_needs_a_key(tmp_path) -> None:
    with pytest.raises(ValueError, match="WIRO_API_KEY"):
        WiroClient.from_settings(load_settings({}, tmp_path / "absent.env"))
