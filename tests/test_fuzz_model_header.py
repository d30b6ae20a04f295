"""Fuzzing model headers: the `config` and `metadata` of a valid tiny checkpoint are replaced
by hostile ones (random JSON, valid configurations with fields mutated, deleted or added,
random text, deep nesting, numbers of thousands of digits) over weights that fit it or not,
and the file is loaded. The only outcomes allowed are a model or the project's own error,
quickly: a configuration that asks for a large network must be refused without building it.

`make test` runs a short budget; `make fuzz` runs a long one (FUZZ_EXAMPLES, default 1000
there) and prints how many cases were tried.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from dsepconv_gui.model.checkpoint import load_checkpoint
from dsepconv_gui.model.config import (
    FLOW_PRIORS,
    MAX_BASE_WIDTH,
    MAX_KERNEL_SIZE,
    PRESETS,
    PRIOR_MOTIONS,
    PRIOR_SAMPLINGS,
)

from .checkpoint_files import TINY, checkpoint_parts, tensors_of, write_checkpoint_file
from .fuzz_outcomes import FuzzOutcomes, fuzz_settings, summary_printer

OUTCOMES = FuzzOutcomes("loaded", time_limit=30.0)

HEADER, TENSORS = checkpoint_parts()
WEIGHTS = {
    "fitting": TENSORS,
    "of kernel_size 5": tensors_of(kernel_size=5),
    "without masks": tensors_of(use_mask=False),
    "one missing": dict(list(TENSORS.items())[1:]),
    "one of integers": {
        **TENSORS,
        "features.encoders.0.0.bias": TENSORS["features.encoders.0.0.bias"].int(),
    },
}

# Any JSON value Python can write (integers within the 4,300 digits it will print).
json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.floats()
    | st.integers(-(10**4000), 10**4000)
    | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=10), children, max_size=5)
    ),
    max_leaves=20,
)
# What a configuration field might be set to: near and far outside its bounds, of every type.
field_values = st.one_of(
    json_values,
    st.integers(-3, 2 * MAX_BASE_WIDTH + 2),
    st.sampled_from(
        [
            0,
            1,
            3,
            5,
            MAX_KERNEL_SIZE,
            MAX_KERNEL_SIZE + 2,
            MAX_BASE_WIDTH,
            MAX_BASE_WIDTH + 1,
            100_000,
            100_001,
            2**63,
            -(2**63),
        ]
    ),
    st.floats(),
    st.sampled_from(FLOW_PRIORS + PRIOR_SAMPLINGS + PRIOR_MOTIONS + ("", "none ")),
)
FIELDS = sorted(TINY.to_dict())
# JSON text that Python's parser cannot take (nesting past its recursion limit, long
# integers) or that a careless scan would take long over.
deep_text = st.builds(
    lambda n, bracket: bracket[0] * n + bracket[1] * n,
    st.integers(1, 200_000),
    st.sampled_from(["[]", ('{"a":', "}")]),
)
long_int_text = st.integers(1, 6000).map(lambda n: "1" + "0" * n)
open_string_text = st.integers(1, 300_000).map(
    lambda n: '"' + '\\"' * n
)  # escaped quotes, never closed
raw_text = st.one_of(deep_text, long_int_text, open_string_text, st.text(max_size=50))


@st.composite
def mutated_configs(draw) -> str:
    """A stored configuration (a preset's or the tiny one) with fields changed, deleted or added."""
    values = draw(st.sampled_from([TINY, *PRESETS.values()])).to_dict()
    for _ in range(draw(st.integers(0, 3))):
        name = draw(st.sampled_from(FIELDS) | st.text(max_size=10))
        if draw(st.booleans()):
            values[name] = draw(field_values)
        else:
            values.pop(name, None)
    text = json.dumps(values)
    if draw(st.booleans()):  # one field's value as raw text, past what json.dumps would write
        name = draw(st.sampled_from(FIELDS))
        text = text[:-1] + (", " if values else "") + f'"{name}": {draw(raw_text)}}}'
    return text


config_texts = st.one_of(
    mutated_configs(), json_values.map(json.dumps), raw_text, st.just(TINY.to_json())
)
metadata_texts = st.one_of(
    json_values.map(json.dumps),
    raw_text,
    st.just(HEADER["metadata"]),
    st.builds(lambda text: '{"notes": ' + text + "}", raw_text),
)


def load(path: Path) -> None:
    """Load the file; only a model or the project's error may come out, in time."""
    with OUTCOMES.case(path.name):
        load_checkpoint(path)


report_cases = summary_printer(OUTCOMES, "model headers")


@fuzz_settings
@given(
    config=config_texts,
    metadata=metadata_texts | st.none(),
    weights=st.sampled_from(sorted(WEIGHTS)),
)
def test_hostile_headers_load_or_are_refused(config, metadata, weights):
    with tempfile.TemporaryDirectory(prefix="dsepconv-fuzz-") as tmp:
        header = {**HEADER, "config": config, "metadata": metadata}
        load(write_checkpoint_file(Path(tmp) / "model.safetensors", header, WEIGHTS[weights]))
