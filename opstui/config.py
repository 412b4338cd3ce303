"""Settings: defaults < config file (TOML) < command line.

The file lives in the platformdirs user config dir (e.g. ~/.config/opstui/config.toml on Linux) unless
OPSTUI_CONFIG points elsewhere. Credentials are never read from or written to it: botocore's normal chain
(profiles, SSO, env vars) provides them.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from platformdirs import user_config_dir

from opstui.commands import TABS

DEFAULT_REFRESH = 15.0


def config_path() -> Path:
    env = os.environ.get("OPSTUI_CONFIG")
    if env:
        return Path(env)
    return Path(user_config_dir("opstui")) / "config.toml"


@dataclass(frozen=True)
class Settings:
    profile: str | None = None
    regions: tuple[str, ...] = ()
    endpoint_url: str | None = None
    read_only: bool = False
    refresh: float = DEFAULT_REFRESH
    theme: str | None = None
    demo: bool = False
    record_sessions: bool = False  # asciicast v2 files of every shell, for audit (config file only)
    bell: bool = False  # ring the terminal bell when an alarm enters ALARM or a canary starts failing
    keymap: tuple[tuple[str, str], ...] = ()  # (command id, keys): the config file's [keymap] table
    fleet_cache: bool = True  # paint the last known fleet at start (opstui.fleet_cache); off for --demo
    tab: str = "overview"  # the tab shown at start (--tab); the others load when first shown


class ConfigError(ValueError):
    """The config file cannot be used; the message says which file and why."""


def load_file(path: Path | None = None) -> dict[str, Any]:
    path = path or config_path()
    if not path.exists():
        return {}
    try:
        with path.open("rb") as fh:
            data = tomllib.load(fh)
    except UnicodeDecodeError:
        raise ConfigError(f"config file {path} is not UTF-8 text") from None
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"cannot read config file {path}: {exc}") from None
    try:
        _check_known(data)
        _check_types(data)
    except ConfigError as exc:
        raise ConfigError(f"config file {path}: {exc}") from None
    return data


#: each setting the file may hold, with the type it must have and how that type reads in a message
_TYPES: dict[str, tuple[tuple[type, ...], str]] = {
    "profile": ((str,), "a string"), "region": ((str,), "a string"), "regions": ((list, str), "a list of strings"),
    "refresh": ((int, float), "a number of seconds"), "theme": ((str,), "a string"),
    "endpoint_url": ((str,), "a string (a URL)"), "read_only": ((bool,), "true or false"),
    "record_sessions": ((bool,), "true or false"), "bell": ((bool,), "true or false"),
    "keymap": ((dict,), "a table of command id = \"keys\""), "fleet_cache": ((bool,), "true or false"),
    "tab": ((str,), "a tab id (overview, fleet, shells, run, inventory, monitoring, backup, logs)"),
}


def _check_types(data: dict[str, Any]) -> None:
    """One line naming the key and the type it needs, for the first value of the wrong type."""
    for key, value in data.items():
        types, wanted = _TYPES[key]
        ok = isinstance(value, types) and not (isinstance(value, bool) and bool not in types)
        if ok and key == "regions" and isinstance(value, list):
            ok = all(isinstance(v, str) for v in value)
        if ok and key == "keymap":
            ok = all(isinstance(k, str) and isinstance(v, str) for k, v in value.items())
        if not ok:
            raise ConfigError(f"setting {key!r} must be {wanted}, not {value!r}")


def _check_known(data: dict[str, Any]) -> None:
    unknown = set(data) - set(_TYPES)
    if unknown:
        raise ConfigError(f"unknown setting(s): {', '.join(sorted(unknown))} "
                          f"(known: {', '.join(sorted(_TYPES))})")


def settings_from(file_data: dict[str, Any], cli: dict[str, Any]) -> Settings:
    """Merge the file's values and the command line's (command line wins; None means 'not given')."""
    s = Settings()
    _check_known(file_data)
    _check_types(file_data)
    regions = file_data.get("regions") or ([file_data["region"]] if file_data.get("region") else [])
    if isinstance(regions, str):
        regions = [regions]
    s = replace(
        s,
        profile=file_data.get("profile") or None,
        regions=tuple(regions),
        refresh=float(file_data.get("refresh", DEFAULT_REFRESH)),
        theme=file_data.get("theme"),
        endpoint_url=file_data.get("endpoint_url"),
        read_only=bool(file_data.get("read_only", False)),
        record_sessions=bool(file_data.get("record_sessions", False)),
        bell=bool(file_data.get("bell", False)),
        fleet_cache=bool(file_data.get("fleet_cache", True)),
        keymap=tuple(sorted((file_data.get("keymap") or {}).items())),
        tab=file_data.get("tab") or "overview",
    )
    overrides = {k: v for k, v in cli.items() if v is not None}
    if "regions" in overrides:
        overrides["regions"] = tuple(overrides["regions"])
    s = replace(s, **overrides)
    if s.refresh <= 0:
        raise ConfigError("refresh must be a positive number of seconds")
    tabs = [tab_id for tab_id, _, _ in TABS]
    if s.tab not in tabs:
        raise ConfigError(f"unknown tab {s.tab!r}: one of {', '.join(tabs)}")
    return s
