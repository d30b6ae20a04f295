"""The resumable training loop: batches from a triplet bank, Adamax, checkpoints at a fixed
interval and on Ctrl-C/SIGTERM, validation on held-out clips, a progress line."""

from __future__ import annotations

import math
import os
import signal
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import NamedTuple

import numpy as np
import torch

from dsepconv_gui.base.errors import CheckpointError, InputError
from dsepconv_gui.base.progress_bar import Progress
from dsepconv_gui.flow.layout import mirror_signs, time_reversal
from dsepconv_gui.frames.metrics import psnr_from_mse
from dsepconv_gui.model.checkpoint import load_checkpoint, save_checkpoint
from dsepconv_gui.model.config import DSepConvConfig
from dsepconv_gui.model.network import (
    DSepConvNet,
    UpsamplingHead,
    light_head_weights,
    prior_frame,
)
from dsepconv_gui.training.losses import LossWeights, interpolation_loss
from dsepconv_gui.training.synthetic_occlusion import (
    SEEN_IN_BOTH,
    SEEN_IN_FIRST_ONLY,
    SEEN_IN_SECOND_ONLY,
    load_or_build_synthetic_pool,
)
from dsepconv_gui.training.triplet_bank import TripletBank

STATE_NAME = "train_state.pt"
WEIGHTS_NAME = "last.safetensors"
BEST_NAME = "best.safetensors"  # the checkpoint with the highest validation PSNR so far
# Every validated checkpoint is kept too: the best on the validation crops is not always the
# one to ship (a mid-run file learned occlusion better, models/README.md).
VALIDATED_NAME = "validated-{:06d}.safetensors"


@dataclass(frozen=True)
class TrainOptions:
    run_dir: Path
    config: DSepConvConfig
    iterations: int = 20000
    batch_size: int = 8
    crop: int = 128
    learning_rate: float = 1e-3
    final_learning_rate: float = 1e-5
    checkpoint_every: int = 200
    validate_every: int = 1000
    validation_every_nth_source: int = 10  # sources with index % n == n - 1 are held out
    min_start_psnr: float | None = None  # skip triplets the starting point gets this wrong (dB)
    weights: LossWeights = field(default_factory=LossWeights)
    seed: int = 0
    device: str = "cpu"
    init: Path | None = None  # start from this model file's weights (same parameter shapes)
    synthetic_occlusions: int = 0  # crops per batch with a moving patch (synthetic_occlusion.py)
    synthetic_pool: int = 2000  # triplets with a moving patch prepared once, drawn from at random
    time_limit: float | None = None  # seconds of training: stop then (the schedule ends with it)
    workers: int = 1  # processes that prepare the synthetic pool (workers.py)
    loader_workers: int = (
        0  # processes that prepare batches while the device trains (0: in this one)
    )
    train_only: tuple[
        str, ...
    ] = ()  # train just the modules of these names (e.g. "mask1"); () trains all


class Batch(NamedTuple):
    """frame0, truth, frame2 (B, 3, crop, crop) in [0, 1]; flows (B, C, crop, crop) or None;
    visibility (B, crop, crop) int8 (SEEN_IN_BOTH where unknown); time (B,): where the truth
    lies between frame0 and frame2 (1/2 for midpoint triplets)."""

    frame0: torch.Tensor
    truth: torch.Tensor
    frame2: torch.Tensor
    flows: torch.Tensor | None
    visibility: torch.Tensor
    time: torch.Tensor

    def to(self, device: torch.device) -> Batch:
        return Batch(*(t.to(device, non_blocking=True) if t is not None else None for t in self))


def sample_batch(
    bank: TripletBank,
    indices: np.ndarray,
    batch_size: int,
    crop: int,
    rng: np.random.Generator,
    with_flows: bool,
    synthetic: TripletBank | None = None,
    synthetic_occlusions: int = 0,
) -> Batch:
    """Random crops with horizontal, vertical and temporal flips (flows, visibility and times
    transformed alike). The first `synthetic_occlusions` crops come from the `synthetic` pool
    (triplets with a patch moving across them, synthetic_occlusion.py), the rest from
    bank[indices]."""
    height, width = bank.frames.shape[2:4]
    if crop > min(height, width):
        raise InputError(
            f"training crop {crop} is larger than the bank's {width}×{height}-pixel triplets"
        )
    frames_out, flows_out, visibility_out, times_out = [], [], [], []
    for n in range(batch_size):
        source, i = (
            (synthetic, rng.integers(len(synthetic)))
            if n < synthetic_occlusions
            else (bank, rng.choice(indices))
        )
        y, x = rng.integers(0, [height - crop + 1, width - crop + 1])
        time = float(source.time_of(i))
        # (3, h, w, 3)
        frames = np.asarray(source.frames[i, :, y : y + crop, x : x + crop], np.float32) / 255.0
        flows = (
            np.asarray(source.flows[i, :, y : y + crop, x : x + crop], dtype=np.float32)
            if with_flows
            else None
        )
        visibility = (
            np.full((crop, crop), SEEN_IN_BOTH, np.int8)
            if source.visibility is None
            else source.visibility[i, y : y + crop, x : x + crop]
        )
        if rng.random() < 0.5:  # mirror left-right: dx changes sign
            frames, visibility = frames[:, :, ::-1], visibility[:, ::-1]
            if flows is not None:
                flows = flows[:, :, ::-1] * mirror_signs(len(flows), "x")[:, None, None]
        if rng.random() < 0.5:  # mirror up-down: dy changes sign
            frames, visibility = frames[:, ::-1], visibility[::-1]
            if flows is not None:
                flows = flows[:, ::-1] * mirror_signs(len(flows), "y")[:, None, None]
        if (
            rng.random() < 0.5
        ):  # reverse time: the flows swap roles, and the frames that show a pixel
            frames, time = frames[::-1], 1.0 - time
            visibility = np.choose(
                visibility, [SEEN_IN_BOTH, SEEN_IN_SECOND_ONLY, SEEN_IN_FIRST_ONLY]
            ).astype(np.int8)
            if flows is not None:
                order, signs = time_reversal(len(flows))
                flows = flows[order] * signs[:, None, None]
        frames_out.append(np.ascontiguousarray(frames.transpose(0, 3, 1, 2)))
        visibility_out.append(np.ascontiguousarray(visibility))
        times_out.append(time)
        if flows is not None:
            flows_out.append(np.ascontiguousarray(flows))
    stacked = torch.from_numpy(np.stack(frames_out))  # (B, 3 frames, 3, h, w)
    flows_tensor = torch.from_numpy(np.stack(flows_out)) if with_flows else None
    return Batch(
        stacked[:, 0],
        stacked[:, 1],
        stacked[:, 2],
        flows_tensor,
        torch.from_numpy(np.stack(visibility_out)),
        torch.tensor(times_out, dtype=torch.float32),
    )


class _Batches(torch.utils.data.IterableDataset):
    """sample_batch forever, for a DataLoader whose workers prepare batches while the
    accelerator trains; each worker draws from its own random stream."""

    def __init__(self, bank, indices, options, with_flows, synthetic, seed) -> None:
        super().__init__()
        self.arguments = (bank, indices, options.batch_size, options.crop)
        self.with_flows, self.synthetic, self.count = (
            with_flows,
            synthetic,
            options.synthetic_occlusions,
        )
        self.seed = seed

    def __iter__(self):
        worker = torch.utils.data.get_worker_info()
        rng = np.random.default_rng([*self.seed, worker.id if worker else 0])
        while True:
            yield sample_batch(*self.arguments, rng, self.with_flows, self.synthetic, self.count)


def learning_rate_at(options: TrainOptions, iteration: int, elapsed: float = 0.0) -> float:
    """Cosine decay from learning_rate to final_learning_rate over the run: over its
    iterations, or over its time limit when that ends it first (elapsed: seconds trained)."""
    progress = iteration / max(options.iterations, 1)
    if options.time_limit:
        progress = max(progress, elapsed / options.time_limit)
    progress = min(progress, 1.0)
    cosine = 0.5 * (1 + math.cos(math.pi * progress))
    return (
        options.final_learning_rate + (options.learning_rate - options.final_learning_rate) * cosine
    )


def psnr(prediction: torch.Tensor, truth: torch.Tensor) -> np.ndarray:
    """PSNR per item (B,) of 8-bit-quantised predictions in [0, 1], in dB."""
    quantised = (prediction.clamp(0, 1) * 255).round() / 255
    mse = ((quantised - truth) ** 2).flatten(1).mean(dim=1).clamp_min(1e-12)
    return psnr_from_mse(mse.double().cpu().numpy(), peak=1.0)


def start_psnr(bank: TripletBank, config: DSepConvConfig, chunk: int = 64) -> np.ndarray:
    """PSNR of each triplet's starting point, what an untrained network outputs: the frames
    read at the flow prior (a model with one) or the frame average."""
    with_flows = config.flow_prior != "none"
    scores = []
    with torch.inference_mode():
        for start in range(0, len(bank), chunk):
            items = np.arange(start, min(start + chunk, len(bank)))
            frames = torch.from_numpy(
                np.asarray(bank.frames[start : start + chunk], dtype=np.float32) / 255.0
            )
            frames = frames.permute(0, 1, 4, 2, 3)
            f0, truth, f2 = frames[:, 0], frames[:, 1], frames[:, 2]
            if with_flows:
                flows = torch.from_numpy(
                    np.asarray(bank.flows[start : start + chunk], dtype=np.float32)
                )
                guess = prior_frame(config, f0, f2, flows, time_or_none(bank, items))
            else:
                guess = linear_blend(f0, f2, bank.time_of(items))
            scores.append(psnr(guess, truth))
    return np.concatenate(scores)


def time_or_none(bank: TripletBank, indices: np.ndarray) -> torch.Tensor | None:
    """The items' times as a tensor for the network, None for a bank of midpoints."""
    return None if bank.times is None else torch.from_numpy(bank.time_of(indices))


def linear_blend(f0: torch.Tensor, f2: torch.Tensor, times: np.ndarray) -> torch.Tensor:
    """The frames blended by time (the frame average at 1/2): the naive baseline."""
    t = torch.from_numpy(np.asarray(times, np.float32)).to(f0).reshape(-1, 1, 1, 1)
    return (1 - t) * f0 + t * f2


def validate(
    model: DSepConvNet, bank: TripletBank, indices: np.ndarray, device: torch.device
) -> dict[str, float]:
    """Mean PSNR on the held-out triplets, of the model and of the frame average (blended by
    time, for a bank of windows) and of the flow prior alone, for a model that has one."""
    with_flows = model.config.flow_prior != "none"
    scores: dict[str, list[float]] = {"model": [], "average": [], "prior": []}
    model.eval()
    with torch.inference_mode():
        for start in range(0, len(indices), 8):
            chunk = indices[start : start + 8]
            frames = torch.from_numpy(np.asarray(bank.frames[chunk], dtype=np.float32) / 255.0)
            frames = frames.permute(0, 1, 4, 2, 3).to(device)
            f0, truth, f2 = frames[:, 0], frames[:, 1], frames[:, 2]
            flows = (
                torch.from_numpy(np.asarray(bank.flows[chunk], dtype=np.float32)).to(device)
                if with_flows
                else None
            )
            time = time_or_none(bank, chunk)
            time = None if time is None else time.to(device)
            scores["model"] += psnr(model(f0, f2, flows=flows, time=time).frame, truth).tolist()
            scores["average"] += psnr(linear_blend(f0, f2, bank.time_of(chunk)), truth).tolist()
            if with_flows:
                scores["prior"] += psnr(
                    prior_frame(model.config, f0, f2, flows, time), truth
                ).tolist()
    model.train()
    return {name: float(np.mean(values)) for name, values in scores.items() if values}


def split_indices(
    options: TrainOptions, bank: TripletBank, log: Callable[[str], None] = print
) -> tuple[np.ndarray, np.ndarray]:
    """The bank's training and held-out validation triplets (every n-th source held out,
    options.min_start_psnr applied to both)."""
    with_flows = options.config.flow_prior != "none"
    if with_flows and bank.flows is None:
        raise InputError(
            "this configuration needs flows, but the triplet bank was built without them"
        )
    if with_flows and bank.flows.shape[1] != options.config.flow_channels:
        raise InputError(
            f"this configuration takes {options.config.flow_channels} flow channels, "
            f"the bank holds {bank.flows.shape[1]} (see TripletBank.with_prior_motion)"
        )
    if bank.times is not None and not options.config.time_input:
        raise InputError(
            "this bank's truths lie at several times (--spans); only a configuration with "
            "time_input (e.g. flow-small-time) learns from it"
        )
    held_out = (
        bank.source % options.validation_every_nth_source == options.validation_every_nth_source - 1
    )
    usable = np.ones(len(bank), dtype=bool)
    if options.min_start_psnr is not None:
        usable = start_psnr(bank, options.config) >= options.min_start_psnr
        log(
            f"{int(usable.sum())} of {len(bank)} triplets have a starting point of at least "
            f"{options.min_start_psnr} dB; the rest are skipped"
        )
    train_indices, val_indices = (
        np.flatnonzero(~held_out & usable),
        np.flatnonzero(held_out & usable),
    )
    if len(train_indices) == 0:
        if not usable.any():
            raise InputError(
                f"no triplet's starting point reaches {options.min_start_psnr} dB; "
                "lower the threshold"
            )
        train_indices, val_indices = np.flatnonzero(usable), np.arange(0)
    log(f"{len(train_indices)} training triplets, {len(val_indices)} held out for validation")
    return train_indices, val_indices


def synthetic_pool_for(
    options: TrainOptions,
    bank: TripletBank,
    train_indices: np.ndarray,
    log: Callable[[str], None] = print,
) -> TripletBank | None:
    """The pool of synthetic occlusions the run draws from (None when it uses none)."""
    if options.synthetic_occlusions <= 0:
        return None
    return load_or_build_synthetic_pool(
        bank,
        train_indices,
        options.synthetic_pool,
        options.config,
        options.seed,
        options.workers,
        log,
    )


def train(
    options: TrainOptions,
    bank: TripletBank,
    resume: bool = False,
    log: Callable[[str], None] = print,
) -> Path:
    """Train (or resume) into options.run_dir; returns the path of the last checkpoint."""
    train_indices, val_indices = split_indices(options, bank, log)
    synthetic = synthetic_pool_for(options, bank, train_indices, log)
    run_dir = options.run_dir
    run_dir.mkdir(parents=True, exist_ok=True)
    device = torch.device(options.device)
    if (
        device.type == "cuda"
    ):  # TF32 matrix and convolution arithmetic: the network is float32 either way
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
        torch.backends.cudnn.benchmark = True
    with_flows = options.config.flow_prior != "none"

    state_path, weights_path = run_dir / STATE_NAME, run_dir / WEIGHTS_NAME
    iteration = 0
    if resume and state_path.exists():
        model = load_checkpoint(
            weights_path, expected_config=options.config, device=device
        ).model.train()
        optimizer = torch.optim.Adamax(
            trainable_parameters(model, options.train_only), lr=options.learning_rate
        )
        state = torch.load(state_path, map_location="cpu", weights_only=True)
        optimizer.load_state_dict(state["optimizer"])
        iteration = int(state["iteration"])
        best_psnr = float(state.get("best_psnr", float("-inf")))
        seconds_before = float(state.get("seconds", 0.0))
        if tuple(state.get("train_only", ())) != options.train_only:
            raise InputError(
                f"{run_dir} was trained with --train-only "
                f"{','.join(state.get('train_only', ())) or '(all)'}; "
                f"resume it with the same modules, or start a new run with --init"
            )
        log(f"resumed {run_dir} at iteration {iteration}")
    else:
        if resume:
            log(f"nothing to resume in {run_dir}; starting a new run")
        torch.manual_seed(options.seed)
        model = DSepConvNet(options.config)
        if options.init is not None:
            load_initial_weights(model, options.init)
            log(f"starting from the weights of {options.init}")
        model = model.to(device).train()
        optimizer = torch.optim.Adamax(
            trainable_parameters(model, options.train_only), lr=options.learning_rate
        )
        best_psnr = float("-inf")
        seconds_before = 0.0

    def save(reason: str, path: Path = weights_path, scores: dict | None = None) -> None:
        metadata = {
            "training": {
                "iteration": iteration,
                "options": _describe(options),
                "bank": bank.manifest.get("stats"),
                "bank_count": len(bank),
                "reason": reason,
            }
        }
        if scores is not None:
            metadata["validation_psnr"] = scores
        save_checkpoint(path, model, metadata)
        if path != weights_path:
            return
        tmp = state_path.with_suffix(".tmp")
        torch.save(
            {
                "optimizer": optimizer.state_dict(),
                "iteration": iteration,
                "best_psnr": best_psnr,
                "seconds": time.monotonic() - started,
                "train_only": list(options.train_only),
            },
            tmp,
        )
        os.replace(tmp, state_path)

    def validate_and_keep() -> None:
        """Validate, keep this snapshot, and keep it as the best when it is."""
        nonlocal best_psnr
        scores = validate(model, bank, val_indices, device)
        log(
            "\nvalidation at {}: {}".format(
                iteration, ", ".join(f"{k} {v:.3f} dB" for k, v in scores.items())
            )
        )
        save("validation", run_dir / VALIDATED_NAME.format(iteration), scores)
        if scores["model"] > best_psnr:
            best_psnr = scores["model"]
            save("best validation", run_dir / BEST_NAME, scores)
            log(f"new best: {run_dir / BEST_NAME}")

    def on_sigterm(signum, frame):  # a background run stopped with kill: save like Ctrl-C
        raise KeyboardInterrupt

    previous_handler = signal.signal(signal.SIGTERM, on_sigterm) if _main_thread() else None
    progress = Progress(options.iterations, iteration, unit="it")
    smoothed = None
    batches = iter(
        torch.utils.data.DataLoader(
            _Batches(
                bank, train_indices, options, with_flows, synthetic, (options.seed, iteration)
            ),
            batch_size=None,
            num_workers=options.loader_workers,
            pin_memory=device.type == "cuda",
            prefetch_factor=4 if options.loader_workers else None,
            persistent_workers=options.loader_workers > 0,
        )
    )
    # a resumed run's time limit counts the time already trained
    started = time.monotonic() - seconds_before
    try:
        while iteration < options.iterations:
            elapsed = time.monotonic() - started
            if options.time_limit is not None and elapsed >= options.time_limit:
                log(f"\ntime limit of {options.time_limit:.0f} s reached at iteration {iteration}")
                break
            for group in optimizer.param_groups:
                group["lr"] = learning_rate_at(options, iteration, elapsed)
            batch = next(batches).to(device)
            loss, parts = interpolation_loss(
                model,
                batch.frame0,
                batch.truth,
                batch.frame2,
                batch.flows,
                options.weights,
                batch.visibility,
                None if bank.times is None else batch.time,
            )
            if not torch.isfinite(loss):
                raise FloatingPointError(f"loss became {loss.item()} at iteration {iteration}")
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            iteration += 1
            smoothed = loss.item() if smoothed is None else 0.98 * smoothed + 0.02 * loss.item()
            progress.update(
                iteration, f"loss {smoothed:.5f} lr {optimizer.param_groups[0]['lr']:.2e}"
            )
            if iteration % options.checkpoint_every == 0 or iteration == options.iterations:
                save("interval")
            if len(val_indices) and (
                iteration % options.validate_every == 0 or iteration == options.iterations
            ):
                validate_and_keep()
        else:
            return weights_path
        save("time limit")  # the loop ended on the time limit: the last state is validated too
        if len(val_indices) and iteration % options.validate_every:
            validate_and_keep()
    except KeyboardInterrupt:
        save("interrupted")
        log(
            f"\ninterrupted: checkpoint saved at iteration {iteration} in {run_dir}; "
            "continue with --resume"
        )
        raise
    finally:
        if previous_handler is not None:
            signal.signal(signal.SIGTERM, previous_handler)
    return weights_path


def trainable_parameters(
    model: DSepConvNet, train_only: tuple[str, ...]
) -> list[torch.nn.Parameter]:
    """The parameters a run trains: all, or those of the named top-level modules (the others
    are frozen). Unknown names: InputError listing the known ones."""
    if not train_only:
        return list(model.parameters())
    known = [name for name, _ in model.named_children()]
    unknown = sorted(set(train_only) - set(known))
    if unknown:
        raise InputError(
            f"no module named {', '.join(unknown)} to train; "
            f"the network's modules: {', '.join(known)}"
        )
    chosen = []
    for name, parameter in model.named_parameters():
        parameter.requires_grad_(name.split(".")[0] in train_only)
        if parameter.requires_grad:
            chosen.append(parameter)
    return chosen


def load_initial_weights(model: DSepConvNet, path: Path) -> None:
    """Copy a model file's weights into model. Its configuration may differ in what has no
    weights (e.g. prior_motion), in inputs the model has and the file's lacks (e.g.
    occlusion_evidence: the first convolution's weights for those start at zero), in heads
    that start at zero (NEUTRAL_AT_START, e.g. the blend logit): the model starts as the file's,
    or in light_heads (a file's 3×3 last layers become 1×1: network.light_head_weights, nearly
    the file's). Other differences: CheckpointError."""
    source = load_checkpoint(path)
    mine, theirs = model.state_dict(), dict(source.model.state_dict())
    if source.config.light_heads and not model.config.light_heads:
        raise CheckpointError(
            f"{path}: its heads end in 1×1 layers (light_heads), which cannot become the 3×3 "
            "layers of the configuration being trained; train a configuration with light_heads"
        )
    if model.config.light_heads and not source.config.light_heads:
        for name, head in model.named_children():
            if isinstance(head, UpsamplingHead):
                key = f"{name}.{len(head) - 1}.weight"  # the head's last convolution
                if key in theirs:
                    theirs[key] = light_head_weights(theirs[key])
    first = FIRST_CONVOLUTION + ".weight"
    if first in mine and first in theirs and _widens_inputs(mine[first], theirs[first]):
        widened = torch.zeros_like(mine[first])
        widened[:, : theirs[first].shape[1]] = theirs[first]
        theirs[first] = widened
    for key in mine:
        fits = key in theirs and theirs[key].shape == mine[key].shape
        if key.split(".")[0] in model.NEUTRAL_AT_START and not fits:
            theirs[key] = mine[
                key
            ]  # a head the file lacks (or has in another shape) keeps its zero start
    for key in set(theirs) - set(mine):
        if key.split(".")[0] in model.NEUTRAL_AT_START:
            del theirs[key]
    if mine.keys() != theirs.keys() or any(mine[k].shape != theirs[k].shape for k in mine):
        raise CheckpointError(
            f"{path}: its weights ({source.config.to_dict()}) do not fit the configuration "
            f"being trained ({model.config.to_dict()})"
        )
    model.load_state_dict(theirs)


FIRST_CONVOLUTION = "features.encoders.0.0"  # the only layer that sees the inputs


def _widens_inputs(mine: torch.Tensor, theirs: torch.Tensor) -> bool:
    """The same convolution with more input channels (extra inputs appended last)."""
    return (
        mine.dim() == theirs.dim() == 4
        and mine.shape[1] > theirs.shape[1]
        and mine.shape[0] == theirs.shape[0]
        and mine.shape[2:] == theirs.shape[2:]
    )


def _describe(options: TrainOptions) -> dict:
    described = asdict(options)
    described["run_dir"] = str(options.run_dir)
    described["init"] = str(options.init) if options.init is not None else None
    return described


def _main_thread() -> bool:
    import threading

    return threading.current_thread() is threading.main_thread()
