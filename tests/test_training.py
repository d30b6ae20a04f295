"""Training: the loss terms, batch sampling with flips, a 2-iteration smoke run with
checkpoints, resume and interruption. Synthetic frames only; no real training here."""

from dataclasses import replace

import numpy as np
import pytest
import torch

from dsepconv_gui.base.errors import CheckpointError, InputError
from dsepconv_gui.cli.main import main
from dsepconv_gui.frames.demo import render_demo_frames
from dsepconv_gui.frames.scene_cuts import thumbnail_difference
from dsepconv_gui.model.checkpoint import load_checkpoint
from dsepconv_gui.training import trainer as trainer_module
from dsepconv_gui.training.losses import LossWeights, charbonnier, gradient_loss, interpolation_loss
from dsepconv_gui.training.sources import discover_sources
from dsepconv_gui.training.trainer import TrainOptions, sample_batch, train
from dsepconv_gui.training.triplet_bank import BankSettings, TripletBank, build_bank

from .conftest import TINY_BICUBIC, TINY_FLOW, TINY_SEARCHED, make_random_network
from .media import demo_frame_folder, write_frame_folder


def test_charbonnier_and_gradient_loss_values():
    a = torch.zeros(1, 3, 4, 4)
    b = torch.full((1, 3, 4, 4), 0.5)
    assert charbonnier(a, b, eps=1e-3).item() == pytest.approx((0.25 + 1e-6) ** 0.5)
    assert charbonnier(a, a, eps=1e-3).item() == pytest.approx(1e-3)
    assert gradient_loss(a, b, eps=1e-6).item() == pytest.approx(4e-6)  # same (flat) gradients
    ramp = torch.arange(4.0).view(1, 1, 1, 4).expand(1, 3, 4, 4)
    # Horizontal differences of 1 against 0, counted for left and right; vertical ones agree.
    assert gradient_loss(ramp, a, eps=1e-9).item() == pytest.approx(2 * 1.0, rel=1e-6)


def test_loss_includes_the_time_reversed_prediction():
    model = make_random_network(TINY_FLOW)
    f0, truth, f2 = (torch.rand(2, 3, 32, 32) for _ in range(3))
    flows = torch.randn(2, 4, 32, 32)
    with_flip, parts = interpolation_loss(model, f0, truth, f2, flows, LossWeights())
    without, parts_without = interpolation_loss(model, f0, truth, f2, flows, LossWeights(flip=0))
    assert "flip" in parts and "flip" not in parts_without
    assert with_flip.item() == pytest.approx(without.item() + parts["flip"], rel=1e-5)


def test_thumbnail_difference_tells_cuts_from_motion():
    frames = render_demo_frames(3)
    other = np.ascontiguousarray(frames[0][::-1, ::-1])
    assert thumbnail_difference(frames[0], frames[1]) < 10 < thumbnail_difference(frames[0], other)


def translating_bank(count=6, size=48, step=(1, 2)):
    """Triplets of a texture moving by `step` pixels per frame, with exact constant flows."""
    rng = np.random.default_rng(0)
    texture = rng.integers(0, 256, (size + 20, size + 20, 3), dtype=np.uint8)
    dy, dx = step
    frames = np.stack(
        [
            np.stack(
                [
                    texture[10 - k * dy : 10 - k * dy + size, 10 - k * dx : 10 - k * dx + size]
                    for k in range(3)
                ]
            )
            for _ in range(count)
        ]
    )
    flows = np.zeros((count, 4, size, size), np.float16)
    flows[:, 0], flows[:, 1], flows[:, 2], flows[:, 3] = 2 * dy, 2 * dx, -2 * dy, -2 * dx
    return TripletBank(frames=frames, flows=flows, source=np.zeros(count, np.int32), manifest={})


def held_out_bank(count=10):
    """A translating bank whose triplets each come from a source of their own: the 10th source
    (every 10th) is held out for validation."""
    bank = translating_bank(count=count)
    bank.source[:] = np.arange(count)
    return bank


def tiny_options(run_dir, config=TINY_FLOW, **settings) -> TrainOptions:
    """Options of a tiny run: one iteration of one 32-pixel crop unless `settings` say more."""
    return TrainOptions(
        run_dir, config, **{"iterations": 1, "batch_size": 1, "crop": 32, **settings}
    )


def test_sampled_batches_keep_frames_and_flows_consistent_under_flips():
    bank = translating_bank()
    rng = np.random.default_rng(1)
    seen = set()
    for _ in range(10):
        f0, truth, f2, flows, *_ = sample_batch(
            bank, np.arange(len(bank)), 4, 32, rng, with_flows=True
        )
        for b in range(4):
            fy, fx = int(flows[b, 0, 0, 0]), int(flows[b, 1, 0, 0])
            seen.add((fy, fx))
            assert (
                torch.all(flows[b, 0] == fy)
                and torch.all(flows[b, 2] == -fy)
                and torch.all(flows[b, 3] == -fx)
            )
            # Pixel p of frame 0 is at p + flow12 in frame 2, and halfway in the truth.
            inner0 = f0[b, :, 8:24, 8:24]
            torch.testing.assert_close(f2[b, :, 8 + fy : 24 + fy, 8 + fx : 24 + fx], inner0)
            torch.testing.assert_close(
                truth[b, :, 8 + fy // 2 : 24 + fy // 2, 8 + fx // 2 : 24 + fx // 2], inner0
            )
    assert seen == {(2, 4), (-2, 4), (2, -4), (-2, -4)}  # every flip combination happened


def test_crop_larger_than_the_bank_is_refused():
    with pytest.raises(InputError, match="larger than"):
        sample_batch(translating_bank(), np.arange(2), 2, 64, np.random.default_rng(0), True)


@pytest.fixture
def frame_folder(tmp_path):
    return demo_frame_folder(tmp_path / "clip", 7)


def test_bank_from_a_frame_folder(frame_folder):
    settings = BankSettings(crop=64, triplets_per_source=4, strides=(1,), window_tries=2)
    bank = build_bank(discover_sources([frame_folder]), settings, log=lambda m: None)
    assert len(bank) == 4
    assert bank.frames.shape == (4, 3, 64, 64, 3) and bank.flows.shape == (4, 4, 64, 64)
    assert np.abs(bank.flows.astype(np.float32)).max() > 0.5  # the demo moves


def test_a_bank_built_by_several_processes_is_the_one_built_by_one(frame_folder, tmp_path):
    second = write_frame_folder(
        tmp_path / "second", [f[::-1] for f in render_demo_frames(6, height=80, width=96)]
    )
    sources = discover_sources([frame_folder, second])
    settings = BankSettings(crop=64, triplets_per_source=3, strides=(1,), window_tries=2)
    one = build_bank(sources, settings, log=lambda m: None, workers=1)
    several = build_bank(sources, settings, log=lambda m: None, workers=2)
    assert len(one) == 6 and set(one.source) == {0, 1}
    np.testing.assert_array_equal(one.frames, several.frames)
    np.testing.assert_array_equal(one.flows, several.flows)
    np.testing.assert_array_equal(one.source, several.source)
    derived_one = one.with_prior_motion("searched", lambda m: None, workers=1)
    derived_several = several.with_prior_motion("searched", lambda m: None, workers=2)
    np.testing.assert_array_equal(derived_one.flows, derived_several.flows)


def test_the_time_limit_ends_the_run_and_its_schedule(tmp_path, monkeypatch):
    # A cosine from 1e-3 to 1e-5 over 1,000 iterations or 100 s, whichever ends first.
    schedule = {"learning_rate": 1e-3, "final_learning_rate": 1e-5, "time_limit": 100.0}
    options = tiny_options(
        tmp_path / "run", iterations=1000, batch_size=2, validate_every=500, **schedule
    )
    assert trainer_module.learning_rate_at(options, 0, 0.0) == pytest.approx(1e-3)
    # Half the time gone at 1 % of the iterations: half-way through the cosine.
    assert trainer_module.learning_rate_at(options, 10, 50.0) == pytest.approx((1e-3 + 1e-5) / 2)
    assert trainer_module.learning_rate_at(options, 10, 150.0) == pytest.approx(1e-5)
    clock = iter(float(t) for t in range(0, 10000, 40))  # each look at the clock: 40 s later
    monkeypatch.setattr(trainer_module.time, "monotonic", lambda: next(clock))
    bank = held_out_bank()  # source 9 is held out
    messages = []
    train(options, bank, log=messages.append)
    state = torch.load(tmp_path / "run" / "train_state.pt", weights_only=True)
    assert 1 <= state["iteration"] < 5  # stopped by the clock, not by the 1,000 iterations
    assert any("time limit" in m for m in messages)
    assert (
        load_checkpoint(tmp_path / "run" / "best.safetensors").metadata["training"]["iteration"]
        == state["iteration"]
    )


def test_two_iteration_training_run_checkpoints_resumes_and_is_interruptible(
    frame_folder, tmp_path, monkeypatch
):
    run = tmp_path / "run"
    folders = ["--run-dir", str(run), "--bank-cache", str(tmp_path / "banks")]
    sizes = ["--batch-size", "2", "--crop", "32", "--bank-crop", "64", "--triplets-per-source", "3"]
    every_step = ["--checkpoint-every", "1", "--validate-every", "1"]
    one_cpu = ["--device", "cpu", "--threads", "1"]
    common = ["train", str(frame_folder), *folders, *sizes, *every_step, *one_cpu]
    monkeypatch.setitem(
        __import__("dsepconv_gui.model.config", fromlist=["PRESETS"]).PRESETS,
        "test-flow",
        TINY_FLOW,
    )
    assert main(common + ["--config", "test-flow", "--iterations", "2"]) == 0
    first = load_checkpoint(run / "last.safetensors")
    assert first.config == TINY_FLOW and first.metadata["training"]["iteration"] == 2
    state = torch.load(run / "train_state.pt", weights_only=True)
    assert state["iteration"] == 2

    assert main(common + ["--config", "test-flow", "--iterations", "3", "--resume"]) == 0
    assert load_checkpoint(run / "last.safetensors").metadata["training"]["iteration"] == 3
    weights_before = {
        k: v.clone()
        for k, v in load_checkpoint(run / "last.safetensors").model.state_dict().items()
    }
    assert any(not torch.equal(weights_before[k], v) for k, v in first.model.state_dict().items())

    # Ctrl-C during the next iteration: the checkpoint is saved and the command exits 130.
    calls = {"n": 0}
    real_loss = trainer_module.interpolation_loss

    def interrupt_second_call(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 2:
            raise KeyboardInterrupt
        return real_loss(*args, **kwargs)

    monkeypatch.setattr(trainer_module, "interpolation_loss", interrupt_second_call)
    assert main(common + ["--config", "test-flow", "--iterations", "10", "--resume"]) == 130
    interrupted = load_checkpoint(run / "last.safetensors")
    assert interrupted.metadata["training"]["iteration"] == 4
    assert interrupted.metadata["training"]["reason"] == "interrupted"


def test_resume_with_another_configuration_is_refused(frame_folder, tmp_path):
    bank = build_bank(
        discover_sources([frame_folder]),
        BankSettings(crop=64, triplets_per_source=2),
        log=lambda m: None,
    )
    train(tiny_options(tmp_path / "r"), bank, log=lambda m: None)
    other = tiny_options(tmp_path / "r", replace(TINY_FLOW, kernel_size=5), iterations=2)
    with pytest.raises(Exception, match="another configuration"):
        train(other, bank, resume=True, log=lambda m: None)


def test_training_on_benchmarks_is_refused(tmp_path, capsys):
    folder = tmp_path / "benchmarks" / "set"
    folder.mkdir(parents=True)
    assert main(["train", str(folder), "--run-dir", str(tmp_path / "r")]) == 2
    assert "benchmark" in capsys.readouterr().err


def test_duration_format_counts_hours_past_a_day():
    from dsepconv_gui.base.progress_bar import format_duration

    assert format_duration(3723) == "1:02:03"
    assert format_duration(30 * 3600 + 5) == "30:00:05"
    assert format_duration(float("inf")) == "?"


def test_validation_on_held_out_sources_keeps_the_best_checkpoint(tmp_path):
    messages = []
    options = tiny_options(
        tmp_path / "run", iterations=2, batch_size=2, validate_every=1, checkpoint_every=1
    )
    train(options, held_out_bank(), log=messages.append)  # source 9 is held out (every 10th)
    assert any("validation at 1" in m and "prior" in m for m in messages)
    best = load_checkpoint(tmp_path / "run" / "best.safetensors")
    assert set(best.metadata["validation_psnr"]) == {"model", "average", "prior"}
    assert torch.load(tmp_path / "run" / "train_state.pt", weights_only=True)["best_psnr"] > 0


def test_start_psnr_filter_skips_triplets_the_prior_gets_badly_wrong(tmp_path):
    from dsepconv_gui.training.trainer import start_psnr

    bank = translating_bank(count=4)
    bank.flows = bank.flows.copy()
    bank.flows[2:] = 0  # these two lose their flow: the prior is now the frame average, far worse
    scores = start_psnr(bank, TINY_FLOW)
    assert scores[0] == pytest.approx(scores[1]) and scores[0] > scores[2] + 5
    messages = []
    options = tiny_options(tmp_path / "run", min_start_psnr=float(scores[2] + 2))
    train(options, bank, log=messages.append)
    assert any("2 of 4 triplets" in m for m in messages)
    too_strict = tiny_options(tmp_path / "r2", min_start_psnr=99.0)
    with pytest.raises(InputError, match="lower the threshold"):
        train(too_strict, bank, log=messages.append)


def test_bank_derives_and_caches_the_searched_prior_flows(tmp_path):
    bank = translating_bank(count=3)
    bank.save(tmp_path / "bank")
    loaded = TripletBank.load(tmp_path / "bank")
    assert loaded.with_prior_motion("linear") is loaded
    messages = []
    derived = loaded.with_prior_motion("searched", messages.append)
    from dsepconv_gui.flow.prior import searched_prior_signature

    cache = tmp_path / "bank" / f"flows-searched-{searched_prior_signature()}.npy"
    assert derived.flows.shape == (3, 6, 48, 48) and cache.exists()
    # A uniform translation: the flows stay, the middle reads frame 1 half a step back.
    np.testing.assert_allclose(
        np.asarray(derived.flows[:, :4], np.float32), bank.flows.astype(np.float32)
    )
    np.testing.assert_allclose(
        np.asarray(derived.flows[:, 4:6, 4:-4, 4:-4], np.float32),
        np.broadcast_to(np.float32([-1, -2])[None, :, None, None], (3, 2, 40, 40)),
    )
    again = TripletBank.load(tmp_path / "bank").with_prior_motion("searched", messages.append)
    assert any("using the searched" in m for m in messages)
    np.testing.assert_array_equal(np.asarray(again.flows), np.asarray(derived.flows))
    # The trainer refuses a bank whose flows do not fit the configuration.
    with pytest.raises(InputError, match="6 flow channels"):
        train(tiny_options(tmp_path / "run", TINY_SEARCHED), loaded, log=messages.append)


def test_sampled_batches_flip_the_searched_middle_displacement_with_the_frames():
    bank = translating_bank().with_prior_motion("searched")
    rng = np.random.default_rng(1)
    for _ in range(5):
        f0, truth, f2, flows, *_ = sample_batch(
            bank, np.arange(len(bank)), 4, 32, rng, with_flows=True
        )
        # Frame 1 is read half the flow back, whatever flips were drawn.
        torch.testing.assert_close(flows[:, 4:6, 8:24, 8:24], -0.5 * flows[:, 0:2, 8:24, 8:24])


def test_a_run_can_start_from_another_models_weights(tmp_path):
    bank = translating_bank(count=4)
    source = make_random_network(TINY_BICUBIC)
    from dsepconv_gui.model.checkpoint import save_checkpoint

    init = save_checkpoint(tmp_path / "linear.safetensors", source)
    messages = []
    options = tiny_options(
        tmp_path / "run", TINY_SEARCHED, init=init, learning_rate=1e-12, final_learning_rate=1e-12
    )
    train(options, bank.with_prior_motion("searched"), log=messages.append)
    started = load_checkpoint(tmp_path / "run" / "last.safetensors")
    assert started.config == TINY_SEARCHED and any(
        "starting from the weights" in m for m in messages
    )
    for name, value in source.state_dict().items():
        torch.testing.assert_close(started.model.state_dict()[name], value, atol=1e-6, rtol=0)
    with pytest.raises(CheckpointError, match="do not fit"):
        train(tiny_options(tmp_path / "run2", init=init), bank, log=messages.append)
