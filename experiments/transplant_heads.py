"""Copy some modules' weights from one model file into another of the same heads, keeping the
rest of the target and its metadata (plus a note of where the modules came from).

Used to give the time-conditioned file the midpoint file's retrained kernel heads, so that at
t = 1/2 it still computes exactly what the midpoint file computes (a test compares them):

    python experiments/transplant_heads.py runs/s17/kernels/best.safetensors \\
        models/dsepconv-time.safetensors models/dsepconv-time.safetensors \\
        --modules vertical1,vertical2,horizontal1,horizontal2
"""

from __future__ import annotations

import argparse
import json

from safetensors import safe_open
from safetensors.torch import save_file


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("source", help="the file whose modules are copied")
    parser.add_argument("target", help="the file that receives them")
    parser.add_argument("output", help="where the result is written (may be the target)")
    parser.add_argument("--modules", required=True, help="comma-separated module names")
    args = parser.parse_args()

    modules = args.modules.split(",")
    with safe_open(args.target, "pt") as target:
        header = target.metadata()
        tensors = {name: target.get_tensor(name) for name in target.keys()}  # noqa: SIM118
    copied = 0
    with safe_open(args.source, "pt") as source:
        for name in source.keys():  # noqa: SIM118
            if name.split(".")[0] in modules:
                shape = source.get_slice(name).get_shape()
                if name not in tensors or list(tensors[name].shape) != shape:
                    parser.error(f"{name}: not in the target, or of another shape")
                tensors[name] = source.get_tensor(name)
                copied += 1
    if not copied:
        parser.error(f"the source has none of {args.modules}")
    metadata = json.loads(header.get("metadata", "{}"))
    metadata.setdefault("modules_from", []).append({"source": args.source, "modules": modules})
    header["metadata"] = json.dumps(metadata)
    save_file({k: v.contiguous() for k, v in tensors.items()}, args.output, metadata=header)
    print(f"{copied} tensors of {', '.join(modules)} from {args.source} into {args.output}")


if __name__ == "__main__":
    main()
