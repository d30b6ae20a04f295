"""Hostile model files: every one ends in one line on stderr and exit status 2, quickly,
through `info --model`, `interpolate --model` and $DSEPCONV_MODEL, and nothing of the size
a header asks for is allocated before the file's tensors are seen to fit it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import pytest
import torch

from dsepconv_gui.base.errors import CheckpointError
from dsepconv_gui.cli.main import main
from dsepconv_gui.model.checkpoint import load_checkpoint
from dsepconv_gui.model.config import MAX_BASE_WIDTH, MAX_KERNEL_SIZE, DSepConvConfig

from .checkpoint_files import TINY, checkpoint_parts, tensors_of, write_checkpoint_file
from .command_lines import interpolate_args
from .media import write_noise_pair

# A refusal reads the header and the tensors' shapes only: well under this.
FAST = (
    30.0  # seconds: catches a hang or an allocation of the size a header claims, not a speed goal
)

HEADER, TENSORS = checkpoint_parts()
DEEP = "[" * 100_000 + "]" * 100_000
DEEP_BUT_SHORT = (
    "[" * 2000 + "]" * 2000
)  # deeper than Python's recursion limit, within the config's length
BIG_INT = "1" + "0" * 4300  # 4,301 digits: beyond Python's limit for int()


def config_json(**changes) -> str:
    """The tiny configuration as JSON with some fields changed (raw JSON text for the values)."""
    values = {k: json.dumps(v) for k, v in TINY.to_dict().items()}
    values.update(changes)
    return "{" + ", ".join(f'"{k}": {v}' for k, v in values.items()) + "}"


def field_case(name: str, words: str, **fields: str) -> tuple[str, dict[str, str], str]:
    """A header case: the tiny configuration with `fields` set to raw JSON text."""
    return name, {"config": config_json(**fields)}, words


def drop(name: str) -> dict[str, torch.Tensor]:
    return {k: v for k, v in TENSORS.items() if k != name}


FIRST = sorted(TENSORS)[0]

# (id, header changes, tensors, words of the message)
HEADER_CASES = [
    ("config-nested-100000", {"config": DEEP}, "characters long"),
    ("config-nested-2000", {"config": DEEP_BUT_SHORT}, "nests 2,000 levels deep"),
    field_case("config-field-nested-1500", "levels deep", base_width="[" * 1500 + "]" * 1500),
    ("metadata-nested-100000", {"metadata": DEEP}, "nests 100,000 levels deep"),
    ("metadata-field-nested-100000", {"metadata": '{"scores": ' + DEEP + "}"}, "levels deep"),
    field_case("config-4301-digit-int", "characters long", base_width=BIG_INT),
    (
        "metadata-4301-digit-int",
        {"metadata": '{"parameters": ' + BIG_INT + "}"},
        "the metadata holds an integer too long to read (over 4,300 digits)",
    ),
    ("config-too-long", {"config": " " * 5000 + TINY.to_json()}, "characters long"),
    ("metadata-too-long", {"metadata": json.dumps({"notes": "x" * 1_100_000})}, "characters long"),
    ("metadata-not-json", {"metadata": "{"}, "not valid JSON"),
    # Escaped quotes in a string left open: a scan that restarts at every quote is quadratic.
    (
        "metadata-open-string-of-escaped-quotes",
        {"metadata": '"' + '\\"' * 500_000},
        "not valid JSON",
    ),
    (
        "metadata-a-megabyte-of-brackets",
        {"metadata": "[" * 500_000 + "]" * 500_000},
        "nests 500,000 levels deep",
    ),
    ("config-not-json", {"config": "kernel_size=3"}, "not valid JSON"),
    ("config-missing", {"config": None}, "not valid JSON"),
    ("config-a-list", {"config": "[3, 2]"}, "must be a mapping"),
    ("config-null", {"config": "null"}, "must be a mapping"),
    ("config-a-string", {"config": '"tiny"'}, "must be a mapping"),
    field_case("base-width-100000", "base_width must be between 1 and 128", base_width="100000"),
    field_case(
        "kernel-size-100001", "kernel_size must be odd and between 1 and 25", kernel_size="100001"
    ),
    field_case("base-width-just-too-big", "base_width", base_width=str(MAX_BASE_WIDTH + 1)),
    field_case("kernel-size-just-too-big", "kernel_size", kernel_size=str(MAX_KERNEL_SIZE + 2)),
    field_case("kernel-size-3000-digits", "kernel_size must be odd", kernel_size="9" * 3000),
    field_case("kernel-size-zero", "kernel_size", kernel_size="0"),
    field_case("kernel-size-negative", "kernel_size", kernel_size="-3"),
    field_case("kernel-size-even", "kernel_size", kernel_size="4"),
    field_case("base-width-zero", "base_width", base_width="0"),
    field_case("base-width-negative", "base_width", base_width="-2"),
    field_case("kernel-size-a-string", "must be int", kernel_size='"3"'),
    field_case("kernel-size-a-bool", "must be int", kernel_size="true"),
    field_case("kernel-size-a-float", "must be int", kernel_size="3.0"),
    field_case("kernel-size-a-list", "must be int", kernel_size="[3]"),
    field_case("kernel-size-null", "must be int", kernel_size="null"),
    field_case("base-width-an-object", "must be int", base_width='{"a": 1}'),
    field_case("use-mask-an-int", "must be bool", use_mask="1"),
    field_case("flow-prior-a-number", "must be str", flow_prior="3"),
    field_case("flow-prior-unknown", "flow_prior must be one of", flow_prior='"raft"'),
    field_case("flow-scale-nan", "flow_scale", flow_scale="NaN"),
    field_case("flow-scale-infinity", "flow_scale", flow_scale="Infinity"),
    field_case("flow-scale-minus-infinity", "flow_scale", flow_scale="-Infinity"),
    field_case("flow-scale-overflows-to-inf", "flow_scale", flow_scale="1e400"),
    field_case("flow-scale-a-bool", "must be float", flow_scale="true"),
    field_case("unknown-field", "unknown config field", evil="1"),
    field_case("unknown-long-field", "unknown config field", **{"e" * 3000: "1"}),
    # Missing fields take their defaults (kernel_size 5, base_width 32): then the weights do
    # not fit.
    ("fields-missing", {"config": "{}"}, "weights do not match"),
    # Valid and as large as allowed (about 0.4 G parameters): refused from the shapes, never built.
    field_case(
        "largest-config-tiny-weights",
        "wrong shape",
        kernel_size=str(MAX_KERNEL_SIZE),
        base_width=str(MAX_BASE_WIDTH),
    ),
]

TENSOR_CASES = [
    (
        "extra-tensor",
        {**TENSORS, "evil.weight": torch.zeros(3)},
        "1 unexpected (e.g. 'evil.weight')",
    ),
    ("missing-tensor", drop(FIRST), f"1 missing (e.g. {FIRST})"),
    ("no-tensors", {}, "missing"),
    (
        "wrong-shape",
        {**TENSORS, FIRST: torch.zeros(TENSORS[FIRST].numel() + 1)},
        "1 of the wrong shape",
    ),
    (
        "int-weights",
        {**TENSORS, FIRST: TENSORS[FIRST].to(torch.int32)},
        f"not of floating-point numbers (e.g. {FIRST}: I32)",
    ),
    ("bool-weights", {**TENSORS, FIRST: TENSORS[FIRST] > 0}, "BOOL"),
    (
        "uint8-weights",
        {k: v.to(torch.uint8) for k, v in TENSORS.items()},
        "not of floating-point numbers",
    ),
    ("weights-of-kernel-size-5", tensors_of(kernel_size=5), "wrong shape"),
    ("weights-of-base-width-4", tensors_of(base_width=4), "wrong shape"),
    ("weights-without-masks", tensors_of(use_mask=False), "missing"),
    ("weights-with-a-flow-prior", tensors_of(flow_prior="dis"), "wrong shape"),
]

CASES = [
    pytest.param({**HEADER, **changes}, TENSORS, words, id=name)
    for name, changes, words in HEADER_CASES
]
CASES += [pytest.param(HEADER, tensors, words, id=name) for name, tensors, words in TENSOR_CASES]


@pytest.fixture
def frames(tmp_path):
    return write_noise_pair(tmp_path, 20, 24)


def entrances(model, frames, out):
    """The ways a user hands a model file to the command line: (arguments, environment)."""
    return {
        "info --model": (["info", "--model", str(model)], {}),
        "interpolate --model": (interpolate_args(frames, out, "--device", "cpu", model=model), {}),
        "DSEPCONV_MODEL info": (["info"], {"DSEPCONV_MODEL": str(model)}),
    }


def run_cli(argv, env, monkeypatch, capsys) -> tuple[int, str, str, float]:
    with monkeypatch.context() as patch:
        for key, value in env.items():
            patch.setenv(key, value)
        started = time.monotonic()
        code = main(argv)
        seconds = time.monotonic() - started
    captured = capsys.readouterr()
    return code, captured.out, captured.err, seconds


def test_the_unaltered_file_loads_through_every_entrance(tmp_path, frames, monkeypatch, capsys):
    model = write_checkpoint_file(tmp_path / "good.safetensors", HEADER, TENSORS)
    for name, (argv, env) in entrances(model, frames, tmp_path / "out.png").items():
        code, out, err, _ = run_cli(argv, env, monkeypatch, capsys)
        assert code == 0, (name, err)
        assert not err.strip(), (name, err)
    assert (tmp_path / "out.png").exists()


@pytest.mark.parametrize("header, tensors, words", CASES)
def test_hostile_model_file_is_one_line_and_status_2(
    tmp_path, frames, monkeypatch, capsys, header, tensors, words
):
    model = write_checkpoint_file(tmp_path / "hostile.safetensors", header, tensors)
    out_png = tmp_path / "out.png"
    for name, (argv, env) in entrances(model, frames, out_png).items():
        code, _, err, seconds = run_cli(argv, env, monkeypatch, capsys)
        lines = err.splitlines()
        assert code == 2, (name, err)
        assert len(lines) == 1, (name, err[:2000])
        assert lines[0].startswith("dsepconv: error: ") and "hostile.safetensors" in lines[0], (
            name,
            lines[0][:500],
        )
        assert words in lines[0], (name, lines[0][:500])
        assert len(lines[0]) < 2000, (name, f"{len(lines[0])} characters")
        assert seconds < FAST, (name, f"{seconds:.1f} s")
    assert not out_png.exists()


def test_the_network_is_never_built_for_weights_that_do_not_fit(tmp_path, monkeypatch):
    """The largest allowed configuration over tiny weights: refused before any network exists."""
    import dsepconv_gui.model.checkpoint as checkpoint

    built = []

    class Recording(checkpoint.DSepConvNet):
        def __init__(self, config):
            built.append(torch.empty(0).device.type)  # the default device while building
            super().__init__(config)

    monkeypatch.setattr(checkpoint, "DSepConvNet", Recording)
    largest = DSepConvConfig(kernel_size=MAX_KERNEL_SIZE, base_width=MAX_BASE_WIDTH)
    path = write_checkpoint_file(
        tmp_path / "m.safetensors", {**HEADER, "config": largest.to_json()}, TENSORS
    )
    with pytest.raises(CheckpointError, match="wrong shape"):
        load_checkpoint(path)
    assert built == ["meta"], built
    built.clear()
    assert (
        load_checkpoint(write_checkpoint_file(tmp_path / "ok.safetensors", HEADER, TENSORS)).config
        == TINY
    )
    assert built == ["meta", "cpu"]


def test_half_precision_weights_load_as_float32(tmp_path):
    half = {k: v.to(torch.float16) for k, v in TENSORS.items()}
    loaded = load_checkpoint(write_checkpoint_file(tmp_path / "half.safetensors", HEADER, half))
    assert all(p.dtype == torch.float32 for p in loaded.model.parameters())


def test_metadata_nested_within_the_limit_still_loads(tmp_path):
    note = (
        "brackets in text: " + "[{" * 40 + ' a quote " and a backslash \\ ' + "[" * 40
    )  # not nesting
    metadata = json.dumps({"history": [[[[{"psnr": 30.5}]]]], "note": note})
    path = write_checkpoint_file(
        tmp_path / "m.safetensors", {**HEADER, "metadata": metadata}, TENSORS
    )
    loaded = load_checkpoint(path)
    assert loaded.metadata["history"] == [[[[{"psnr": 30.5}]]]] and loaded.metadata["note"] == note


def test_deeply_nested_header_through_a_real_process(tmp_path, frames):
    """$DSEPCONV_MODEL in a separate process: one line, status 2, no traceback."""
    model = write_checkpoint_file(
        tmp_path / "deep.safetensors", {**HEADER, "metadata": DEEP}, TENSORS
    )
    done = subprocess.run(
        [sys.executable, "-m", "dsepconv_gui.cli", "info"],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "DSEPCONV_MODEL": str(model)},
    )
    assert done.returncode == 2, done.stderr[-2000:]
    assert done.stderr.count("\n") == 1 and "Traceback" not in done.stderr
    assert (
        "deep.safetensors: bad metadata in checkpoint: the metadata nests 100,000 levels deep"
        in done.stderr
    )
