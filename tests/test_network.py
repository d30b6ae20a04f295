"""The DSepConv network: architecture, the paper configuration, any frame size, intermediates."""

import pytest
import torch

from dsepconv_gui.base.errors import ConfigError, InputError
from dsepconv_gui.model.config import PRESETS, DSepConvConfig, preset
from dsepconv_gui.model.deformable_separable_conv import deformable_separable_conv
from dsepconv_gui.model.network import DSepConvNet, EstimatorHead, alignment_padding

from .conftest import make_random_network


def test_paper_configuration_is_buildable_by_name_with_about_22m_parameters():
    config = preset("paper")
    assert (config.kernel_size, config.base_width, config.use_mask) == (5, 32, True)
    count = DSepConvNet(config).parameter_count()
    # SepConv's U-Net (about 21.6 M with n = 51) plus ten estimator heads for n = 5.
    assert 21.5e6 < count < 22.5e6, count
    without_masks = DSepConvNet(preset("paper-no-mask")).parameter_count()
    assert 0 < count - without_masks < 0.5e6


def test_heads_have_the_paper_output_channels():
    model = DSepConvNet(DSepConvConfig(kernel_size=7, base_width=2))
    assert model.vertical1[-1].out_channels == 7
    assert model.offset_x2[-1].out_channels == 49
    assert model.mask1[-1].out_channels == 49
    assert len(model.heads()) == 10
    assert (
        len(DSepConvNet(DSepConvConfig(kernel_size=7, base_width=2, use_mask=False)).heads()) == 8
    )


@pytest.mark.parametrize("size", [(1, 1), (33, 17), (2, 3), (64, 96), (31, 65)])
def test_any_frame_size_gives_that_size(size, random_network):
    a, b = torch.rand(2, 3, *size), torch.rand(2, 3, *size)
    with torch.no_grad():
        out = random_network(a, b, return_terms=True)
    assert out.frame.shape == (2, 3, *size)
    for term in out.terms:
        assert term.vertical.shape == (2, 3, *size)
        assert term.offset_y.shape == (2, 9, *size)
        assert term.mask.shape == (2, 9, *size)
        assert term.result.shape == (2, 3, *size)


def test_terms_sum_to_the_output_and_are_the_op_applied_to_each_frame(random_network):
    a, b = torch.rand(1, 3, 40, 50), torch.rand(1, 3, 40, 50)
    with torch.no_grad():
        out = random_network(a, b, return_terms=True)
        plain = random_network(a, b)
    assert plain.terms is None
    torch.testing.assert_close(plain.frame, out.frame)
    torch.testing.assert_close(out.terms[0].result + out.terms[1].result, out.frame)
    # 40×50 is padded to 64×64; the cropped parameters on the unpadded frame give the same
    # result because replicate padding is what the op's border rule reads anyway.
    for frame, term in zip((a, b), out.terms, strict=True):
        direct = deformable_separable_conv(
            frame, term.vertical, term.horizontal, term.offset_y, term.offset_x, term.mask
        )
        torch.testing.assert_close(direct, term.result, rtol=1e-4, atol=1e-5)
    assert out.terms[0].offset_x.abs().max() > 0.01  # the perturbed network moves taps
    assert ((out.terms[0].mask > 0) & (out.terms[0].mask < 1)).all()


def test_untrained_network_starts_as_the_frame_average():
    for use_mask in (True, False):
        model = DSepConvNet(DSepConvConfig(kernel_size=5, base_width=2, use_mask=use_mask)).eval()
        a, b = torch.rand(1, 3, 32, 32), torch.rand(1, 3, 32, 32)
        with torch.no_grad():
            torch.testing.assert_close(model(a, b).frame, (a + b) / 2)


def test_gradients_reach_every_parameter():
    model = make_random_network(DSepConvConfig(kernel_size=3, base_width=8)).train()
    a, b = torch.rand(1, 3, 64, 64), torch.rand(1, 3, 64, 64)
    model(a, b).frame.square().mean().backward()
    for name, parameter in model.named_parameters():
        assert parameter.grad is not None and parameter.grad.abs().sum() > 0, name


def test_bad_frames_raise_clear_errors(random_network):
    with pytest.raises(InputError, match="differ in shape"):
        random_network(torch.rand(1, 3, 8, 8), torch.rand(1, 3, 8, 9))
    with pytest.raises(InputError, match=r"\(B, 3, H, W\)"):
        random_network(torch.rand(1, 4, 8, 8), torch.rand(1, 4, 8, 8))
    with pytest.raises(InputError, match="floating"):
        random_network(
            torch.zeros(1, 3, 8, 8, dtype=torch.uint8), torch.zeros(1, 3, 8, 8, dtype=torch.uint8)
        )
    with pytest.raises(InputError, match="empty"):
        random_network(torch.rand(1, 3, 0, 8), torch.rand(1, 3, 0, 8))


def test_alignment_padding_reaches_multiples_of_32():
    assert alignment_padding(32, 64) == (0, 0, 0, 0)
    left, right, top, bottom = alignment_padding(33, 17)
    assert (33 + top + bottom, 17 + left + right) == (64, 32)
    assert abs(left - right) <= 1 and abs(top - bottom) <= 1


def test_config_round_trip_and_validation():
    for config in PRESETS.values():
        assert DSepConvConfig.from_json(config.to_json()) == config
    with pytest.raises(ConfigError, match="odd"):
        DSepConvConfig(kernel_size=4)
    with pytest.raises(ConfigError, match="unknown config field"):
        DSepConvConfig.from_dict({"kernel_size": 5, "colour": "blue"})
    with pytest.raises(ConfigError, match="must be int"):
        DSepConvConfig.from_dict({"kernel_size": "5"})
    with pytest.raises(ConfigError, match="known: paper"):
        preset("huge")


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device on this machine")
def test_network_on_cuda_agrees_with_cpu():
    model = make_random_network(DSepConvConfig(kernel_size=5, base_width=4))
    a, b = torch.rand(1, 3, 45, 70), torch.rand(1, 3, 45, 70)
    with torch.no_grad():
        cpu = model(a, b).frame
        cuda = model.cuda()(a.cuda(), b.cuda()).frame.cpu()
    torch.testing.assert_close(cuda, cpu, rtol=1e-3, atol=1e-3)


def test_cubic_weights_sum_to_one_and_interpolate_exactly_at_whole_pixels():
    from dsepconv_gui.model.network import cubic_weights

    t = torch.linspace(0, 0.999, 50)
    weights = torch.stack(cubic_weights(t))
    torch.testing.assert_close(weights.sum(0), torch.ones(50))
    assert torch.allclose(
        torch.stack(cubic_weights(torch.tensor(0.0))), torch.tensor([0.0, 1.0, 0.0, 0.0])
    )


def test_untrained_bicubic_prior_network_reads_the_frames_as_opencv_bicubic():
    import cv2
    import numpy as np

    from dsepconv_gui.model.network import prior_displacements, prior_frame

    config = DSepConvConfig(kernel_size=5, base_width=2, flow_prior="dis", prior_sampling="bicubic")
    model = DSepConvNet(config).eval()
    rng = np.random.default_rng(0)
    h, w = 40, 52
    frames = [rng.random((h, w, 3)).astype(np.float32) for _ in range(2)]
    flows = torch.from_numpy(rng.uniform(-6, 6, (1, 4, h, w)).astype(np.float32))
    to = lambda x: torch.from_numpy(x).permute(2, 0, 1)[None]  # noqa: E731
    with torch.inference_mode():
        out = model(to(frames[0]), to(frames[1]), flows=flows).frame
        start = prior_frame(config, to(frames[0]), to(frames[1]), flows)
    prior1, prior2 = prior_displacements(flows)
    rows, cols = np.mgrid[0:h, 0:w].astype(np.float32)
    expected = 0
    for frame, prior in ((frames[0], prior1), (frames[1], prior2)):
        dy, dx = prior[0, 0].numpy(), prior[0, 1].numpy()
        expected = (
            expected
            + cv2.remap(
                frame, cols + dx, rows + dy, cv2.INTER_CUBIC, borderMode=cv2.BORDER_REPLICATE
            )
            / 2
        )
    inner = (
        slice(None),
        slice(None),
        slice(8, -8),
        slice(8, -8),
    )  # OpenCV's border rule differs for cubic
    expected = torch.from_numpy(expected).permute(2, 0, 1)[None]
    torch.testing.assert_close(out[inner], expected[inner], rtol=0, atol=1e-4)
    torch.testing.assert_close(start, out, rtol=0, atol=1e-5)


def test_bicubic_prior_sampling_needs_a_flow_prior_and_masks():
    with pytest.raises(ConfigError, match="needs a flow prior"):
        DSepConvConfig(prior_sampling="bicubic")
    with pytest.raises(ConfigError, match="prior_sampling must be one of"):
        DSepConvConfig(flow_prior="dis", prior_sampling="lanczos")


def test_a_light_head_runs_its_1x1_layer_before_the_upsampling_as_after_it():
    torch.manual_seed(0)
    head = EstimatorHead(4, 9, light=True)
    torch.nn.init.normal_(head[-1].weight, std=0.3)
    torch.nn.init.normal_(head[-1].bias, std=0.1)
    features = torch.rand(2, 4, 6, 10)
    *body, upsample, last = head
    after = features
    for layer in body:
        after = layer(after)
    after = last(upsample(after))  # the order of a full head
    read = []
    hook = head[-1].register_forward_hook(lambda module, inputs, output: read.append(inputs[0]))
    got = head(features)
    hook.remove()
    assert read[0].shape[-2:] == (6, 10)  # the 1×1 layer ran at half resolution
    assert got.shape == (2, 9, 12, 20)
    torch.testing.assert_close(got, after, atol=1e-6, rtol=1e-5)
    assert got.abs().max() > 0.01  # the last layer acted


def test_light_heads_halve_the_networks_flops():
    from torch.utils.flop_counter import FlopCounterMode

    def flops(name: str) -> int:
        model = DSepConvNet(preset(name)).eval()
        frames = torch.rand(2, 1, 3, 128, 128)
        with FlopCounterMode(display=False) as counter, torch.no_grad():
            model.estimate(frames[0], frames[1], torch.zeros(1, 6, 128, 128))
        return counter.get_total_flops()

    full, light = flops("flow-small-gated"), flops("flow-small-light")
    # 0.495 measured; the 1×1 layers run after the upsampling would make it 0.539
    assert light < 0.52 * full, (light, full)


def test_a_file_with_3x3_last_layers_loads_as_light_heads_by_their_tap_sums(tmp_path):
    from dsepconv_gui.model.checkpoint import save_checkpoint
    from dsepconv_gui.training.trainer import load_initial_weights

    full_config = preset("flow-small-gated")
    source = make_random_network(full_config)
    path = save_checkpoint(tmp_path / "full.safetensors", source)
    light = DSepConvNet(preset("flow-small-light"))
    load_initial_weights(light, path)
    for name in ("vertical1", "offset_x2", "mask1", "blend"):
        full_head, light_head = getattr(source, name), getattr(light, name)
        assert light_head[-1].weight.shape[-2:] == (1, 1)
        torch.testing.assert_close(
            light_head[-1].weight, full_head[-1].weight.sum(dim=(2, 3), keepdim=True)
        )
        # on constant features (smooth at any scale) the two compute the same, away from
        # the border, where the convolutions read their zero padding
        constant = torch.rand(1, full_head[0].in_channels, 1, 1).expand(1, -1, 32, 32)
        with torch.no_grad():
            full = full_head(constant)
            inner = full[..., 10:-10, 10:-10]
            assert inner.std(dim=(-2, -1)).max() < 1e-5 < full.abs().max()  # constant, not 0
            torch.testing.assert_close(
                light_head(constant)[..., 10:-10, 10:-10],
                full[..., 10:-10, 10:-10],
                atol=1e-5,
                rtol=1e-5,
            )
    torch.testing.assert_close(
        light.features.encoders[0][0].weight, source.features.encoders[0][0].weight
    )


def test_a_light_file_does_not_load_into_3x3_heads(tmp_path):
    from dsepconv_gui.base.errors import CheckpointError
    from dsepconv_gui.model.checkpoint import save_checkpoint
    from dsepconv_gui.training.trainer import load_initial_weights

    path = save_checkpoint(tmp_path / "light.safetensors", DSepConvNet(preset("flow-small-light")))
    with pytest.raises(CheckpointError, match="light_heads"):
        load_initial_weights(DSepConvNet(preset("flow-small-gated")), path)
