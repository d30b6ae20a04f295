"""Model files: round trip, metadata, and one clear error for every kind of bad file."""

import os
import pickle
from pathlib import Path

import pytest
import torch
from safetensors.torch import save_file

from dsepconv_gui.base.errors import CheckpointError
from dsepconv_gui.base.safe_output import temp_file
from dsepconv_gui.model.checkpoint import load_checkpoint, read_header, save_checkpoint
from dsepconv_gui.model.config import DSepConvConfig
from dsepconv_gui.model.weights import resolve_model

from .conftest import make_random_network


@pytest.fixture
def saved(tmp_path):
    model = make_random_network(DSepConvConfig(kernel_size=3, base_width=2), seed=1)
    path = save_checkpoint(
        tmp_path / "model.safetensors",
        model,
        {"training": {"data": "synthetic"}, "scores": {"psnr": 1.5}},
    )
    return model, path


def test_round_trip_keeps_weights_config_and_metadata(saved):
    model, path = saved
    loaded = load_checkpoint(path)
    assert loaded.config == model.config
    assert loaded.metadata["training"] == {"data": "synthetic"}
    assert loaded.metadata["scores"]["psnr"] == 1.5
    assert loaded.metadata["parameters"] == model.parameter_count()
    assert "created" in loaded.metadata
    assert not loaded.model.training
    a, b = torch.rand(1, 3, 20, 30), torch.rand(1, 3, 20, 30)
    with torch.no_grad():
        torch.testing.assert_close(loaded.model(a, b).frame, model(a, b).frame, rtol=0, atol=0)
    assert read_header(path)[0] == model.config
    assert [p.name for p in path.parent.iterdir()] == [path.name], "temporary file left behind"


def test_save_to_a_255_byte_name_and_a_killed_saves_temporary_is_removed(tmp_path):
    model = make_random_network(DSepConvConfig(kernel_size=3, base_width=2), seed=1)
    path = tmp_path / ("m" * 243 + ".safetensors")  # 255 bytes: the temporary must be shorter
    stale = temp_file(path)  # a temporary of this destination, as a killed save leaves it...
    dead = stale.with_name(stale.name.replace(f"-{os.getpid()}-", "-999999999-"))
    stale.rename(dead)  # ...but of a process that is gone
    assert save_checkpoint(path, model) == path and load_checkpoint(path).config == model.config
    assert [p.name for p in tmp_path.iterdir()] == [path.name]


def test_missing_file(tmp_path):
    with pytest.raises(CheckpointError, match="nope.safetensors: no such file"):
        load_checkpoint(tmp_path / "nope.safetensors")


def test_empty_file(tmp_path):
    path = tmp_path / "empty.safetensors"
    path.write_bytes(b"")
    with pytest.raises(CheckpointError, match="empty"):
        load_checkpoint(path)


@pytest.mark.parametrize("keep", [0.1, 0.5, 0.99])
def test_truncated_file(saved, tmp_path, keep):
    _, path = saved
    data = path.read_bytes()
    truncated = tmp_path / "truncated.safetensors"
    truncated.write_bytes(data[: int(len(data) * keep)])
    with pytest.raises(CheckpointError, match="truncated.safetensors"):
        load_checkpoint(truncated)


def test_random_bytes(tmp_path):
    path = tmp_path / "noise.safetensors"
    path.write_bytes(bytes(range(256)) * 40)
    with pytest.raises(CheckpointError, match="not a readable DSepConv checkpoint"):
        load_checkpoint(path)


def test_safetensors_file_that_is_not_a_checkpoint(tmp_path):
    path = tmp_path / "other.safetensors"
    save_file({"weight": torch.zeros(3)}, str(path))
    with pytest.raises(CheckpointError, match="not a DSepConv checkpoint"):
        load_checkpoint(path)


def test_checkpoint_of_another_configuration(saved):
    _, path = saved
    with pytest.raises(CheckpointError, match="another configuration"):
        load_checkpoint(path, expected_config=DSepConvConfig(kernel_size=5, base_width=2))


def test_weights_that_do_not_match_the_stored_configuration(tmp_path):
    small = make_random_network(DSepConvConfig(kernel_size=3, base_width=2))
    path = save_checkpoint(tmp_path / "m.safetensors", small)
    # Rewrite the header to claim another kernel size: the tensors no longer fit.
    from safetensors import safe_open

    with safe_open(str(path), framework="pt") as f:
        header = f.metadata()
        tensors = {k: f.get_tensor(k) for k in f.keys()}
    header["config"] = DSepConvConfig(kernel_size=5, base_width=2).to_json()
    save_file(tensors, str(path), metadata=header)
    with pytest.raises(CheckpointError, match="wrong shape"):
        load_checkpoint(path)


def test_a_malicious_pickle_is_refused_and_never_executed(tmp_path):
    marker = tmp_path / "pwned"

    class Exploit:
        def __reduce__(self):
            return (Path.touch, (marker,))

    path = tmp_path / "model.pth"
    path.write_bytes(pickle.dumps(Exploit()))
    with pytest.raises(CheckpointError, match="model.pth"):
        load_checkpoint(path)
    with pytest.raises(CheckpointError):
        resolve_model(str(path))
    assert not marker.exists()


def test_random_model_spec_needs_no_file():
    loaded, warning = resolve_model("random:tiny")
    assert warning is None
    assert loaded.config.base_width == 2
    assert "untrained" in loaded.source
