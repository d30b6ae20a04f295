"""Settings that persist between runs (an INI file), read defensively: a damaged file means
defaults and a message, never a crash."""

from __future__ import annotations

import os
from pathlib import Path

from PySide6.QtCore import QByteArray, QSettings, QStandardPaths

DEFAULTS = {
    "device": "auto",
    "precision": "auto",
    "model": "",
    "last_folder": "",
    "step": 1,
    "compare": False,
    "arrows": False,
    "offset_tap": -1,
    "slowmo_factor": 4,
    "slowmo_scale": 0.5,  # full size instead on a GPU, until the user chooses (main_window)
    "playback_speed": 1.0,
    "playback_mode": "Interpolated",
    "export_folder": "",
    "recent": "",  # the clips opened last, one path per line, newest first
}
RECENT_COUNT = 8


def settings_path() -> Path:
    """$DSEPCONV_SETTINGS, else dsepconv_gui.ini in the user's config folder."""
    override = os.environ.get("DSEPCONV_SETTINGS")
    if override:
        return Path(override)
    folder = QStandardPaths.writableLocation(QStandardPaths.StandardLocation.AppConfigLocation)
    return Path(folder or Path.home() / ".config") / "dsepconv_gui.ini"


class AppSettings:
    def __init__(self, path: Path | None = None) -> None:
        self.path = path or settings_path()
        self.problem: str | None = None
        self.qsettings = QSettings(str(self.path), QSettings.Format.IniFormat)
        if self.qsettings.status() != QSettings.Status.NoError:
            self.problem = f"settings file {self.path} could not be read; using defaults"
            self.qsettings.clear()

    def get(self, key: str):
        default = DEFAULTS[key]
        value = self.qsettings.value(key, default)
        try:
            if isinstance(default, bool):
                return (
                    value if isinstance(value, bool) else str(value).lower() in ("true", "1", "yes")
                )
            return type(default)(value)
        except (TypeError, ValueError):
            self.problem = f"settings file {self.path}: bad value for '{key}'; using the default"
            return default

    def recent(self) -> list[str]:
        return [line for line in self.get("recent").split("\n") if line][:RECENT_COUNT]

    def update_recent(self, path: str, keep: bool = True) -> list[str]:
        """Put a clip that opened first in the recent list, or drop one that did not open;
        returns the list."""
        paths = ([path] if keep else []) + [p for p in self.recent() if p != path]
        self.set("recent", "\n".join(paths[:RECENT_COUNT]))
        return paths[:RECENT_COUNT]

    def has(self, key: str) -> bool:
        """Whether the user's settings hold this key (rather than its default)."""
        return self.qsettings.contains(key)

    def set(self, key: str, value) -> None:
        self.qsettings.setValue(key, value)

    def geometry(self, key: str) -> QByteArray | None:
        value = self.qsettings.value(key)
        return value if isinstance(value, QByteArray) else None

    def sync(self) -> None:
        self.qsettings.sync()
