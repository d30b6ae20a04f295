"""Which learned part of a model wins or loses where: `dsepconv eval` of a model with one part
taken back to its start or changed.

    python experiments/offset_ablation.py PART MODEL DIR [DIR ...] [eval options, e.g. --no-peers]

PART:
  no-kernels        the residual kernels' last layers zeroed (a bicubic-start model's start)
  no-offsets        the learned offsets zeroed (every tap at the prior)
  no-masks          mask and blend heads zeroed (masks 0.5, as at the start)
  offset-mean       each pixel's learned offsets replaced by their mean over the taps (a shift)
  offset-deviation  only each tap's deviation from that mean (no shift)
  gate:AGREE,DISAGREE  the model re-configured with gated_offsets and these thresholds

e.g. python experiments/offset_ablation.py offset-mean models/dsepconv.safetensors \
         ../shared/data/benchmarks/middlebury-other runs/heldout-real --no-peers
(the model card's "Gated offsets" table).
"""

from __future__ import annotations

import dataclasses
import sys
import tempfile
from pathlib import Path

import torch

from dsepconv_gui.cli.main import main as dsepconv
from dsepconv_gui.model import network, occlusion_evidence
from dsepconv_gui.model.checkpoint import load_checkpoint, save_checkpoint
from dsepconv_gui.model.network import DSepConvNet

ZEROED = {
    "no-kernels": ("vertical1", "vertical2", "horizontal1", "horizontal2"),
    "no-offsets": ("offset_y1", "offset_y2", "offset_x1", "offset_x2"),
    "no-masks": ("mask1", "mask2", "blend"),
}
OFFSET_PARTS = {
    "offset-mean": lambda d: d.mean(1, keepdim=True).expand_as(d),
    "offset-deviation": lambda d: d - d.mean(1, keepdim=True),
}


class _Changed(torch.nn.Module):
    def __init__(self, head: torch.nn.Module, change) -> None:
        super().__init__()
        self.head, self.change = head, change

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return self.change(self.head(features))


def _change_offsets(change) -> None:
    term = network.DSepConvNet._term

    def changed(self, features, prior, heads, *args):
        vertical, horizontal, offset_y, offset_x, mask = heads
        heads = (vertical, horizontal, _Changed(offset_y, change), _Changed(offset_x, change), mask)
        return term(self, features, prior, heads, *args)

    network.DSepConvNet._term = changed


def main(argv: list[str]) -> int:
    part, model_path, rest = argv[0], Path(argv[1]), argv[2:]
    loaded = load_checkpoint(model_path)
    config = loaded.config
    if part.startswith("gate:"):
        agree, disagree = (float(v) for v in part[5:].split(","))
        if not 0 <= agree < disagree:
            raise SystemExit(f"gate:AGREE,DISAGREE needs 0 <= AGREE < DISAGREE, got {part!r}")
        occlusion_evidence.OFFSET_GATE_AGREE = agree
        occlusion_evidence.OFFSET_GATE_DISAGREE = disagree
        config = dataclasses.replace(config, gated_offsets=True)
    elif part in OFFSET_PARTS:
        _change_offsets(OFFSET_PARTS[part])
    elif part not in ZEROED:
        raise SystemExit(f"unknown part {part!r}; see --help")
    elif part == "no-kernels" and config.prior_sampling != "bicubic":
        raise SystemExit("no-kernels: only a bicubic-start model's kernels start at zero heads")
    model = DSepConvNet(config)
    model.load_state_dict(loaded.model.state_dict())
    with torch.no_grad():
        for name in ZEROED.get(part, ()):
            head = getattr(model, name)
            if head is not None:
                head[-1].weight.zero_()
                head[-1].bias.zero_()
    with tempfile.TemporaryDirectory() as folder:
        changed = save_checkpoint(Path(folder) / f"{model_path.stem}-{part}.safetensors", model)
        return dsepconv(["eval", *rest, "--model", str(changed)])


if __name__ == "__main__":
    if len(sys.argv) < 4 or sys.argv[1] in ("-h", "--help"):
        print(__doc__)
        sys.exit(0 if len(sys.argv) > 1 and sys.argv[1] in ("-h", "--help") else 2)
    sys.exit(main(sys.argv[1:]))
