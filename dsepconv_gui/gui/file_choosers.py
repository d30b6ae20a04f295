"""The file dialogs: which clips to open, which model file to load."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtWidgets import QFileDialog, QWidget

from dsepconv_gui.gui.session import clip_paths
from dsepconv_gui.gui.settings import AppSettings
from dsepconv_gui.video.clips import IMAGE_EXTENSIONS, VIDEO_EXTENSIONS


def choose_clips(parent: QWidget, settings: AppSettings) -> list[Path]:
    """Clips to open (a picked image stands for its numbered sequence), starting in the last
    folder used; [] when cancelled."""
    patterns = " ".join(f"*{ext}" for ext in VIDEO_EXTENSIONS + IMAGE_EXTENSIONS)
    start = settings.get("last_folder") or str(Path.home())
    title = "Open clips (or pick one image of a numbered sequence)"
    paths, _ = QFileDialog.getOpenFileNames(parent, title, start, f"Clips ({patterns})")
    if paths:
        settings.set("last_folder", str(Path(paths[0]).parent))
    return clip_paths([Path(p) for p in paths])


def choose_model(parent: QWidget) -> str | None:
    """A model file, or None when cancelled."""
    start = str(Path.cwd() / "models")
    path, _ = QFileDialog.getOpenFileName(parent, "Open model", start, "Models (*.safetensors)")
    return path or None


def choose_folder(parent: QWidget, settings: AppSettings) -> Path | None:
    """A folder of numbered images to open, or None when cancelled."""
    start = settings.get("last_folder") or str(Path.home())
    path = QFileDialog.getExistingDirectory(parent, "Open a folder of numbered images", start)
    if path:
        settings.set("last_folder", str(Path(path).parent))
    return Path(path) if path else None


def choose_output_folder(parent: QWidget, settings: AppSettings) -> Path | None:
    """A folder to write files into, or None when cancelled."""
    start = settings.get("export_folder") or str(Path.home())
    path = QFileDialog.getExistingDirectory(parent, "Save into the folder", start)
    return Path(path) if path else None
