"""Every setting is declared once, typed, read once, and documented in .env.example."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

from studio.config import Config, variables

ROOT = Path(__file__).resolve().parent.parent
# Gradio's and the platform's own variables that .env.example mentions for the host.
NOT_OURS = {"GRADIO_SERVER_NAME", "GRADIO_SERVER_PORT", "GRADIO_ANALYTICS_ENABLED",
            "FORWARDED_ALLOW_IPS"}


def load(**values: str) -> Config:
    return Config.load(values, None)


def example_variables() -> set[str]:
    text = (ROOT / ".env.example").read_text()
    return set(re.findall(r"^#?\s*([A-Z][A-Z0-9_]+)=", text, re.M))


def test_every_setting_has_its_line_in_env_example_and_every_line_a_setting():
    documented = example_variables()
    assert set(variables()) - documented == set()
    assert documented - set(variables()) - NOT_OURS == set()


def test_defaults_with_nothing_set():
    config = load()
    assert config == Config()
    assert (config.runs_per_session, config.max_concurrent_runs,
            config.runs_per_client_per_hour, config.daily_spend_cap_usd) == (1, 4, 30, 0.0)
    assert not config.bring_your_own_key and config.sharing and config.push_updates
    assert config.data_dir == Path(".data")
    assert config.wiro.base_url == "https://api.wiro.ai/v1" and not config.wiro.has_key


def test_values_are_typed():
    config = load(APP_RUNS_PER_SESSION="2", APP_MAX_CONCURRENT_RUNS="9",
                  APP_RUNS_PER_CLIENT_PER_HOUR="5", APP_DAILY_SPEND_CAP_USD="1.50",
                  APP_BRING_YOUR_OWN_KEY="true", APP_KEEP_RESULTS="20",
                  APP_KEEP_RESULTS_MB="5.5", APP_SHARING="0", APP_DATA_DIR="/tmp/x",
                  WIRO_API_KEY=" k ", WIRO_POLL_INTERVAL="2.5")
    assert (config.runs_per_session, config.max_concurrent_runs,
            config.runs_per_client_per_hour) == (2, 9, 5)
    assert config.daily_spend_cap_usd == 1.5 and config.bring_your_own_key
    assert (config.keep_results, config.keep_results_mb, config.sharing) == (20, 5.5, False)
    assert config.data_dir == Path("/tmp/x")
    assert config.wiro.api_key == "k" and config.wiro.poll_interval == 2.5


@pytest.mark.parametrize(("name", "raw"), [
    ("APP_KEEP_RESULTS_MB", "lots"), ("APP_RUNS_PER_SESSION", "1.5"),
    ("APP_RUNS_PER_SESSION", "-1"), ("APP_SHARING", "maybe"), ("APP_DAILY_SPEND_CAP_USD", "nan"),
    ("APP_MAX_CONCURRENT_RUNS", "0"), ("APP_TRUSTED_PROXY_HOPS", "0"),
    ("WIRO_FILE_INPUT", "carrier-pigeon"), ("WIRO_TASK_TIMEOUT", "soon"),
])
def test_a_wrong_value_stops_the_start_naming_the_variable(name, raw):
    with pytest.raises(ValueError, match=name):
        load(**{name: raw})


def test_blank_means_the_default():
    assert load(APP_RUNS_PER_SESSION=" ", APP_SHARING="", WIRO_API_KEY="  ") == Config()


def test_proxy_settings_and_a_space():
    config = load(APP_TRUST_PROXY_HEADERS="1", APP_TRUSTED_PROXY_HOPS="2")
    assert config.trust_proxy_headers and config.trusted_proxy_hops == 2
    space = load(SPACE_ID="me/demo")
    assert space.trust_proxy_headers and space.trusted_proxy_hops == 1
    assert not load(SPACE_ID="me/demo", APP_TRUST_PROXY_HEADERS="0").trust_proxy_headers


def test_environment_wins_over_dotenv(tmp_path):
    env = tmp_path / ".env"
    env.write_text("APP_RUNS_PER_SESSION=3\nAPP_SHARING=0\n")
    config = Config.load({"APP_RUNS_PER_SESSION": "2"}, env)
    assert config.runs_per_session == 2 and config.sharing is False
