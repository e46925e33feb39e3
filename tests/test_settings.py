"""Configuration: a bad value stops the process with a message naming the variable."""

from __future__ import annotations

import subprocess
import sys
import tempfile

import pytest

from messenger.settings import SettingsError, load

from .rig import base_env


@pytest.mark.parametrize(
    ("name", "value"),
    [("PORT", "abc"), ("BCRYPT_ROUNDS", "2"), ("SMTP_URL", "http://mail"), ("MAIL_FROM", "nobody")],
)
def test_bad_value_stops_serve_naming_the_variable(name: str, value: str) -> None:
    env = base_env(MESSENGER_DATA_DIR=tempfile.mkdtemp(prefix="messenger-settings-"), **{name: value})
    proc = subprocess.run(
        [sys.executable, "-m", "messenger", "serve"], env=env, capture_output=True, timeout=60, check=False
    )
    assert proc.returncode != 0
    assert name.encode() in proc.stderr


def test_mail_settings_defaults() -> None:
    data_dir = tempfile.mkdtemp()
    settings = load({"MESSENGER_DATA_DIR": data_dir, "SECRET_KEY": "k" * 32, "PUBLIC_URL": "https://chat.example.org"})
    assert settings.mail_from == "noreply@chat.example.org"
    assert settings.smtp_url is None
    assert load({"MESSENGER_DATA_DIR": data_dir, "SECRET_KEY": "k" * 32}).mail_from == "noreply@localhost"


def test_smtp_url_scheme_is_checked() -> None:
    with pytest.raises(SettingsError, match="SMTP_URL"):
        load({"MESSENGER_DATA_DIR": tempfile.mkdtemp(), "SECRET_KEY": "k" * 32, "SMTP_URL": "ftp://x"})


def _redis_env(**values: str) -> dict[str, str]:
    return {"MESSENGER_DATA_DIR": tempfile.mkdtemp(), "SECRET_KEY": "k" * 32, **values}


def test_a_cluster_redis_url_keeps_jobs_in_process_unless_jobs_redis_url_is_set() -> None:
    cluster = "redis+cluster://:pw@127.0.0.1:7000,127.0.0.1:7001"
    settings = load(_redis_env(REDIS_URL=cluster))
    assert settings.redis_cluster
    assert settings.jobs_redis is None
    jobs = load(_redis_env(REDIS_URL=cluster, JOBS_REDIS_URL="redis://127.0.0.1:6379/1"))
    assert jobs.jobs_redis == "redis://127.0.0.1:6379/1"
    plain = load(_redis_env(REDIS_URL="redis://127.0.0.1:6379/0"))
    assert not plain.redis_cluster
    assert plain.jobs_redis == "redis://127.0.0.1:6379/0"


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("REDIS_URL", "redis+cluster://127.0.0.1"),
        ("REDIS_URL", "redis+cluster://127.0.0.1:7000,:7001"),
        ("JOBS_REDIS_URL", "redis+cluster://127.0.0.1:7000"),
        ("REDIS_PREFIX", "app{1}:"),
    ],
)
def test_bad_redis_settings_name_the_variable(name: str, value: str) -> None:
    with pytest.raises(SettingsError, match=name):
        load(_redis_env(**{name: value}))
