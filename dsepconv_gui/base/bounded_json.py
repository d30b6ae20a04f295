"""JSON from files the user did not write: bounded in length and nesting before it is parsed.

Python's json parser recurses once per level of nesting (RecursionError, or worse with a
raised recursion limit) and refuses integers of more than 4,300 digits with a ValueError;
`loads` turns every such case into one ValueError whose message says what is wrong.
"""

from __future__ import annotations

import itertools
import json
import re
import sys
from typing import Any

# A JSON string, whose brackets do not nest; one left open runs to the end of the text, so
# that no quote is scanned twice (linear time, whatever the text).
_STRING = re.compile(r'"(?:[^"\\]|\\.?)*+(?:"|\Z)', re.DOTALL)
_BRACKET = re.compile(r"[\[\]{}]")


def loads(text: str, *, max_chars: int, max_depth: int) -> Any:
    """The value of `text`; ValueError when it is longer than max_chars, nests lists and
    objects deeper than max_depth, or is not JSON (including numbers Python will not read).
    The error's message completes "the config ...": "is not valid JSON (...)"."""
    if not isinstance(text, str):
        raise ValueError(f"is not JSON text but {type(text).__name__}")
    if len(text) > max_chars:
        raise ValueError(f"is {len(text):,} characters long (at most {max_chars:,})")
    depth = nesting_depth(text)
    if depth > max_depth:
        raise ValueError(f"nests {depth:,} levels deep (at most {max_depth})")
    try:
        return json.loads(text)
    except RecursionError:  # cannot happen after the depth check; kept as a backstop
        raise ValueError("nests too deeply") from None
    except json.JSONDecodeError as exc:
        raise ValueError(f"is not valid JSON ({exc})") from None
    except ValueError:  # Python reads no integer of more than 4,300 digits
        raise ValueError(
            f"holds an integer too long to read (over {sys.get_int_max_str_digits():,} digits)"
        ) from None


def nesting_depth(text: str) -> int:
    """How deep lists and objects nest in JSON text (strings skipped), without parsing it."""
    steps = (1 if b in "[{" else -1 for b in _BRACKET.findall(_STRING.sub('""', text)))
    return max(itertools.accumulate(steps, initial=0))
