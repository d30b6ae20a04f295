"""The occlusion test's pair (tests/test_shipped_model_occlusion.py: a textured square moving
16 pixels right over a textured background), measured in three places for each model: the
strip the square uncovers (frame 2 alone shows it: W₂ − W₁ and mask₂ − mask₁), its leading
edge (frame 1 alone shows it: W₁ − W₂) and rows where both frames see the background (W₂ − W₁).

    python experiments/occlusion_strips.py models/dsepconv.safetensors OTHER.safetensors
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from dsepconv_gui.interpolation.intermediates import term_total_weight
from dsepconv_gui.interpolation.interpolator import Interpolator
from dsepconv_gui.model.device import resolve_device
from dsepconv_gui.model.weights import resolve_model
from tests.test_shipped_model_occlusion import LEFT, MOTION, SIDE, H, uncovering_pair  # noqa: E402


def main() -> None:
    top = (H - SIDE) // 2
    rows = slice(top + 4, top + SIDE - 4)
    uncovered = (rows, slice(LEFT + 2, LEFT + MOTION // 2 - 2))
    leading = (rows, slice(LEFT + SIDE + 2, LEFT + SIDE + MOTION // 2 - 2))
    for name in sys.argv[1:]:
        loaded, _ = resolve_model(name, "cpu")
        term1, term2 = (
            Interpolator(loaded, resolve_device("cpu"))
            .interpolate(*uncovering_pair(), with_terms=True)
            .terms
        )
        w1, w2 = term_total_weight(term1), term_total_weight(term2)
        mask_lead = (
            term2.mask[:, uncovered[0], uncovered[1]].mean()
            - term1.mask[:, uncovered[0], uncovered[1]].mean()
        )
        print(
            f"{name}: uncovered W2 - W1 {(w2 - w1)[uncovered].mean():+.2f}, "
            f"mask2 - mask1 {mask_lead:+.2f}; "
            f"leading edge W1 - W2 {(w1 - w2)[leading].mean():+.2f}; "
            f"both see W2 - W1 {(w2 - w1)[0:16].mean():+.2f}"
        )


if __name__ == "__main__":
    main()
