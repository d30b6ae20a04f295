"""Model files: weights in safetensors (never pickle), configuration and metadata in its header.

A checkpoint is one `.safetensors` file whose string metadata holds
    format          "dsepconv-checkpoint"
    format_version  "1"
    architecture    "dsepconv"
    config          the DSepConvConfig as JSON
    metadata        JSON: training data summary, scores, date, anything descriptive
"""

from __future__ import annotations

import datetime as _dt
import json
import os
import reprlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import save_file

from dsepconv_gui.base import bounded_json
from dsepconv_gui.base.errors import CheckpointError, ConfigError
from dsepconv_gui.base.input_paths import check_input_file
from dsepconv_gui.base.safe_output import atomic_file
from dsepconv_gui.model.config import DSepConvConfig
from dsepconv_gui.model.network import DSepConvNet

FORMAT = "dsepconv-checkpoint"
FORMAT_VERSION = "1"
ARCHITECTURE = "dsepconv"
# The metadata is a short description (under 1 KB for the shipped model).
MAX_METADATA_JSON_CHARS = 1 << 20
MAX_METADATA_JSON_DEPTH = 32
# safetensors' names of the types weights may be stored in (converted to float32 on loading).
FLOAT_DTYPES = ("F16", "BF16", "F32", "F64")


@dataclass(frozen=True)
class LoadedModel:
    """A network ready for inference, with where it came from and what its file says of it."""

    model: DSepConvNet
    config: DSepConvConfig
    source: str
    metadata: dict[str, Any] = field(default_factory=dict)


def save_checkpoint(
    path: str | os.PathLike, model: DSepConvNet, metadata: dict[str, Any] | None = None
) -> Path:
    """Write the model atomically (a temporary beside it, renamed into place: safe_output.py)."""
    path = Path(path)
    info = dict(metadata or {})
    info.setdefault("created", _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"))
    info.setdefault("parameters", model.parameter_count())
    header = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "architecture": ARCHITECTURE,
        "config": model.config.to_json(),
        "metadata": json.dumps(info, sort_keys=True),
    }
    tensors = {name: t.detach().to("cpu").contiguous() for name, t in model.state_dict().items()}
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_file(path) as tmp:
        save_file(tensors, str(tmp), metadata=header)
    return path


def read_header(path: str | os.PathLike) -> tuple[DSepConvConfig, dict[str, Any]]:
    """The configuration and metadata of a checkpoint, without reading its weights."""
    path = Path(path)
    header = _open_header(path)
    return _config_from_header(path, header), _metadata_from_header(path, header)


def load_checkpoint(
    path: str | os.PathLike,
    *,
    device: torch.device | str = "cpu",
    expected_config: DSepConvConfig | None = None,
) -> LoadedModel:
    """Build the network a checkpoint describes and load its weights (in eval mode).

    Raises CheckpointError naming the file when it is missing, unreadable, damaged, not a
    DSepConv checkpoint, inconsistent with its own configuration, or (if expected_config is
    given) of another configuration. The header is read within bounds (MAX_CONFIG_JSON_* in
    config.py, MAX_METADATA_JSON_* here) and the tensors' names, shapes and types are checked
    against the configuration before anything of the network's size is allocated.
    """
    path = Path(path)
    header = _open_header(path)
    config = _config_from_header(path, header)
    metadata = _metadata_from_header(path, header)
    if expected_config is not None and config != expected_config:
        raise CheckpointError(
            f"{path}: checkpoint of another configuration: file has {config.to_dict()}, "
            f"expected {expected_config.to_dict()}"
        )
    try:
        with safe_open(str(path), framework="pt", device="cpu") as f:
            # Names, shapes and types first, from the header: nothing is allocated for a
            # file whose weights do not fit its configuration.
            _check_tensors(path, config, {name: f.get_slice(name) for name in f.keys()})
            tensors = {name: f.get_tensor(name) for name in f.keys()}
    except (SafetensorError, OSError, ValueError, RuntimeError) as exc:
        raise CheckpointError(
            f"{path}: damaged checkpoint, cannot read its weights ({exc})"
        ) from None
    model = DSepConvNet(config)
    model.load_state_dict(tensors)
    model.to(device).eval()
    return LoadedModel(model=model, config=config, source=str(path), metadata=metadata)


def expected_shapes(config: DSepConvConfig) -> dict[str, tuple[int, ...]]:
    """The name and shape of every tensor of a network of this configuration, found without
    allocating its weights (the network is built on PyTorch's meta device)."""
    with torch.device("meta"):
        model = DSepConvNet(config)
    return {name: tuple(t.shape) for name, t in model.state_dict().items()}


def _check_tensors(path: Path, config: DSepConvConfig, stored: dict[str, Any]) -> None:
    """CheckpointError unless the file holds exactly the tensors the configuration implies,
    each of its shape and of a floating-point type (stored: name -> safetensors slice)."""
    expected = expected_shapes(config)
    missing = sorted(set(expected) - set(stored))
    unexpected = sorted(set(stored) - set(expected))
    shapes = {name: tuple(stored[name].get_shape()) for name in set(expected) & set(stored)}
    wrong = sorted(n for n in shapes if shapes[n] != expected[n])
    not_float = sorted(n for n in shapes if stored[n].get_dtype() not in FLOAT_DTYPES)
    if not (missing or unexpected or wrong or not_float):
        return
    details = []
    if missing:
        details.append(f"{len(missing)} missing (e.g. {missing[0]})")
    if unexpected:
        details.append(f"{len(unexpected)} unexpected (e.g. {reprlib.repr(unexpected[0])})")
    if wrong:
        n = wrong[0]
        details.append(
            f"{len(wrong)} of the wrong shape (e.g. {n}: {shapes[n]} instead of {expected[n]})"
        )
    if not_float:
        n = not_float[0]
        details.append(
            f"{len(not_float)} not of floating-point numbers (e.g. {n}: {stored[n].get_dtype()})"
        )
    raise CheckpointError(
        f"{path}: weights do not match the configuration {config.to_dict()}: " + "; ".join(details)
    )


def _open_header(path: Path) -> dict[str, str]:
    check_input_file(path, CheckpointError, "a model file")
    try:
        with safe_open(str(path), framework="pt", device="cpu") as f:
            header = f.metadata() or {}
    except (SafetensorError, OSError, ValueError, RuntimeError) as exc:
        raise CheckpointError(
            f"{path}: not a readable DSepConv checkpoint "
            f"(truncated, damaged or another format: {exc})"
        ) from None
    if header.get("format") != FORMAT:
        raise CheckpointError(
            f"{path}: a safetensors file, but not a DSepConv checkpoint (no '{FORMAT}' header)"
        )
    if header.get("format_version") != FORMAT_VERSION:
        raise CheckpointError(
            f"{path}: checkpoint format version {header.get('format_version')!r} is not supported "
            f"(this version reads {FORMAT_VERSION})"
        )
    if header.get("architecture") != ARCHITECTURE:
        raise CheckpointError(
            f"{path}: architecture {header.get('architecture')!r} is not {ARCHITECTURE!r}"
        )
    return header


def _config_from_header(path: Path, header: dict[str, str]) -> DSepConvConfig:
    try:
        return DSepConvConfig.from_json(header.get("config", ""))
    except ConfigError as exc:
        raise CheckpointError(f"{path}: bad configuration in checkpoint: {exc}") from None


def _metadata_from_header(path: Path, header: dict[str, str]) -> dict[str, Any]:
    try:
        value = bounded_json.loads(
            header.get("metadata", "{}"),
            max_chars=MAX_METADATA_JSON_CHARS,
            max_depth=MAX_METADATA_JSON_DEPTH,
        )
    except ValueError as exc:
        raise CheckpointError(f"{path}: bad metadata in checkpoint: the metadata {exc}") from None
    return value if isinstance(value, dict) else {}
