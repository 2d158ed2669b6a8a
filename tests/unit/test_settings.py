"""Settings: defaults, environment, TOML file, precedence, validation, documentation."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from beffroi.errors import ConfigurationError
from beffroi.settings import (
    CONFIG_FILE,
    MIN_SECRET_LENGTH,
    SECRET_KEY_FILE,
    Settings,
    generate_secret_key,
    load_settings,
    settings_markdown,
)

REPO = Path(__file__).resolve().parents[2]
KEEP = {"BEFFROI_REQUIRE_SERVICES", "BEFFROI_TEST_POSTGRES_URL"}
LONG_SECRET = "s" * MIN_SECRET_LENGTH


@pytest.fixture(autouse=True)
def clean_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """No BEFFROI_* variable of the developer, and a working directory without an instance."""
    for name in list(os.environ):
        if name.startswith("BEFFROI_") and name not in KEEP:
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)


def write_toml(path: Path, body: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(body, encoding="utf-8")
    return path


def test_defaults() -> None:
    settings = load_settings()
    assert settings.data_dir == Path("beffroi-data")
    assert settings.database_url is None
    assert settings.secret_key is None
    assert (settings.host, settings.port) == ("127.0.0.1", 8000)
    assert settings.base_url == "http://127.0.0.1:8000"
    assert settings.default_locale == "fr"
    assert settings.log_level == "INFO"
    assert (settings.page_size_default, settings.page_size_max) == (20, 500)
    assert settings.session_lifetime_hours == 12
    assert settings.workers == 1
    assert settings.is_embedded
    assert settings.catalog_url == f"sqlite:///{Path('beffroi-data/catalog.sqlite3').resolve()}"
    assert settings.secure_cookies is False
    for name, field in Settings.model_fields.items():
        assert getattr(settings, name) == field.default, name


def test_environment_variables(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("BEFFROI_PORT", "9001")
    monkeypatch.setenv("BEFFROI_HOST", "0.0.0.0")  # noqa: S104 - a value, not a bind
    monkeypatch.setenv("BEFFROI_DATA_DIR", str(tmp_path / "ailleurs"))
    monkeypatch.setenv("BEFFROI_DEFAULT_LOCALE", "en")
    monkeypatch.setenv("BEFFROI_COOKIE_SECURE", "true")
    monkeypatch.setenv("BEFFROI_DATABASE_URL", "postgresql+psycopg://u@h/db")
    monkeypatch.setenv("BEFFROI_BASE_URL", "https://donnees.example.org/")
    settings = load_settings()
    assert settings.port == 9001
    assert settings.host == "0.0.0.0"  # noqa: S104
    assert settings.data_dir == tmp_path / "ailleurs"
    assert settings.default_locale == "en"
    assert settings.cookie_secure is True
    assert settings.catalog_url == "postgresql+psycopg://u@h/db"
    assert not settings.is_embedded
    assert settings.base_url == "https://donnees.example.org"  # trailing slash dropped


def test_https_base_url_turns_on_secure_cookies() -> None:
    assert load_settings(base_url="https://donnees.example.org").secure_cookies is True
    secure_off = load_settings(base_url="https://donnees.example.org", cookie_secure=False)
    assert secure_off.secure_cookies is False


def test_keyword_arguments_beat_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BEFFROI_PORT", "9001")
    assert load_settings(port=9002).port == 9002


def test_toml_named_by_beffroi_config(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    config = write_toml(
        tmp_path / "conf" / "instance.toml",
        'port = 8123\nhost = "10.0.0.1"\nlog_level = "DEBUG"\n',
    )
    monkeypatch.setenv("BEFFROI_CONFIG", str(config))
    settings = load_settings()
    assert (settings.port, settings.host, settings.log_level) == (8123, "10.0.0.1", "DEBUG")


def test_toml_section_beffroi(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    config = write_toml(tmp_path / "c.toml", "[beffroi]\nworkers = 4\n")
    monkeypatch.setenv("BEFFROI_CONFIG", str(config))
    assert load_settings().workers == 4


def test_toml_in_data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    data_dir = tmp_path / "instance"
    write_toml(data_dir / CONFIG_FILE, "page_size_default = 42\n")
    assert load_settings(data_dir=data_dir).page_size_default == 42
    assert load_settings(data_dir=tmp_path).page_size_default == 20  # no file there
    monkeypatch.setenv("BEFFROI_DATA_DIR", str(data_dir))
    assert load_settings().page_size_default == 42


def test_toml_in_default_data_dir(tmp_path: Path) -> None:
    write_toml(tmp_path / "beffroi-data" / CONFIG_FILE, "workers = 3\n")
    assert load_settings().workers == 3  # ./beffroi-data/beffroi.toml


def test_environment_beats_toml(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    config = write_toml(tmp_path / "c.toml", "port = 8123\nworkers = 2\n")
    monkeypatch.setenv("BEFFROI_CONFIG", str(config))
    monkeypatch.setenv("BEFFROI_PORT", "9999")
    settings = load_settings()
    assert (settings.port, settings.workers) == (9999, 2)


def test_unknown_toml_key_is_named(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    config = write_toml(tmp_path / "c.toml", "port = 8123\nprot = 1\nzzz_typo = true\n")
    monkeypatch.setenv("BEFFROI_CONFIG", str(config))
    with pytest.raises(ConfigurationError, match="prot, zzz_typo") as raised:
        load_settings()
    assert str(config) in raised.value.message
    assert "settings.md" in (raised.value.hint or "")


def test_unreadable_toml(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    config = write_toml(tmp_path / "c.toml", "port = = 3\n")
    monkeypatch.setenv("BEFFROI_CONFIG", str(config))
    with pytest.raises(ConfigurationError, match="illisible"):
        load_settings()


def test_missing_beffroi_config_file(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("BEFFROI_CONFIG", str(tmp_path / "absent.toml"))
    with pytest.raises(ConfigurationError, match=r"absent\.toml"):
        load_settings()


@pytest.mark.parametrize(
    ("variable", "value", "field"),
    [
        ("BEFFROI_PORT", "70000", "port"),
        ("BEFFROI_PORT", "huit-mille", "port"),
        ("BEFFROI_DEFAULT_LOCALE", "de", "default_locale"),
        ("BEFFROI_LOG_LEVEL", "LOUD", "log_level"),
        ("BEFFROI_BASE_URL", "donnees.example.org", "base_url"),
        ("BEFFROI_WORKERS", "0", "workers"),
        ("BEFFROI_COOKIE_SECURE", "peut-etre", "cookie_secure"),
    ],
)
def test_invalid_environment_value(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str, field: str
) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(ConfigurationError) as raised:
        load_settings()
    assert f"{field}:" in raised.value.message
    assert raised.value.__cause__ is None  # no pydantic traceback chained to it
    assert "BEFFROI_" in (raised.value.hint or "")


def test_invalid_toml_value(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    config = write_toml(tmp_path / "c.toml", 'port = "huit-mille"\n')
    monkeypatch.setenv("BEFFROI_CONFIG", str(config))
    with pytest.raises(ConfigurationError, match="port:"):
        load_settings()


def test_unknown_keyword_refused() -> None:
    with pytest.raises(ConfigurationError, match="prot"):
        load_settings(prot=1)


def test_short_secret_key_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ConfigurationError, match="secret_key"):
        load_settings(secret_key="s" * (MIN_SECRET_LENGTH - 1))
    monkeypatch.setenv("BEFFROI_SECRET_KEY", "trop-court")
    with pytest.raises(ConfigurationError, match=str(MIN_SECRET_LENGTH)) as raised:
        load_settings()
    assert "trop-court" not in raised.value.message  # a secret is never echoed
    assert load_settings(secret_key=LONG_SECRET).signing_key() == LONG_SECRET.encode()


def test_secret_not_in_repr() -> None:
    settings = load_settings(secret_key=LONG_SECRET)
    assert LONG_SECRET not in repr(settings)
    assert LONG_SECRET not in str(settings.model_dump())


def test_signing_key_without_key_file(tmp_path: Path) -> None:
    settings = load_settings(data_dir=tmp_path)
    with pytest.raises(ConfigurationError) as raised:
        settings.signing_key()
    assert str(tmp_path / SECRET_KEY_FILE) in raised.value.message
    assert "beffroi init" in (raised.value.hint or "")


def test_signing_key_from_key_file(tmp_path: Path) -> None:
    key = generate_secret_key()
    assert len(key) >= MIN_SECRET_LENGTH
    assert key != generate_secret_key()
    (tmp_path / SECRET_KEY_FILE).write_text(key + "\n", encoding="ascii")
    assert load_settings(data_dir=tmp_path).signing_key() == key.encode()


def test_signing_key_file_too_short(tmp_path: Path) -> None:
    (tmp_path / SECRET_KEY_FILE).write_text("court", encoding="ascii")
    with pytest.raises(ConfigurationError, match="trop courte") as raised:
        load_settings(data_dir=tmp_path).signing_key()
    assert "beffroi init" in (raised.value.hint or "")


def test_every_setting_is_documented() -> None:
    markdown = settings_markdown()
    for name, field in Settings.model_fields.items():
        assert field.description, f"setting {name} has no description"
        assert len(field.description) > 15, name
        assert f"`BEFFROI_{name.upper()}`" in markdown
        assert field.description in markdown


def test_settings_reference_is_up_to_date() -> None:
    path = REPO / "docs" / "reference" / "settings.md"
    assert path.read_text(encoding="utf-8") == settings_markdown(), (
        "docs/reference/settings.md is stale: run `beffroi docs`"
    )


def test_time_zone_must_be_known() -> None:
    assert load_settings(timezone="America/Cayenne").timezone == "America/Cayenne"
    with pytest.raises(ConfigurationError, match="timezone"):
        load_settings(timezone="Europe/Lorient")
