"""Which model to use: the shipped one in `models/`, a file the user names, or an untrained
network (`random:PRESET`) for tests and for trying the pipeline before a model exists."""

from __future__ import annotations

import os
from pathlib import Path

import torch

from dsepconv_gui.model.checkpoint import LoadedModel, load_checkpoint
from dsepconv_gui.model.config import preset
from dsepconv_gui.model.network import DSepConvNet

MODELS_DIR = Path(__file__).resolve().parents[2] / "models"
DEFAULT_MODEL_NAME = "dsepconv.safetensors"
RANDOM_PREFIX = "random:"


def default_model_path() -> Path:
    """$DSEPCONV_MODEL if set, else models/dsepconv.safetensors in the project."""
    env = os.environ.get("DSEPCONV_MODEL")
    return Path(env) if env else MODELS_DIR / DEFAULT_MODEL_NAME


def random_model(preset_name: str = "tiny", seed: int = 0) -> LoadedModel:
    """An untrained network of a named configuration, with reproducible weights."""
    config = preset(preset_name)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = DSepConvNet(config).eval()
    return LoadedModel(
        model=model, config=config, source=f"{RANDOM_PREFIX}{preset_name} (untrained)"
    )


def resolve_model(
    spec: str | None, device: torch.device | str = "cpu"
) -> tuple[LoadedModel, str | None]:
    """Load the model a user asked for; returns it and a warning to show, if any.

    spec None: the default model file; when it does not exist yet, an untrained tiny
    network with a warning. spec "random:PRESET": an untrained network. Else a file path.
    """
    if spec is None:
        path = default_model_path()
        if not path.exists() and "DSEPCONV_MODEL" not in os.environ:
            loaded = random_model("tiny")
            loaded.model.to(device)
            return loaded, (
                f"no trained model at {path}; using an untrained tiny network "
                "(its frames are not meaningful)"
            )
        return load_checkpoint(path, device=device), None
    if spec.startswith(RANDOM_PREFIX):
        loaded = random_model(spec[len(RANDOM_PREFIX) :] or "tiny")
        loaded.model.to(device)
        return loaded, None
    return load_checkpoint(spec, device=device), None
