"""The deformable separable convolution: agreement with a per-pixel loop, gradients,
the SepConv and flow-warping identities, and CPU/CUDA agreement."""

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from scipy import ndimage

from dsepconv_gui.base.errors import InputError
from dsepconv_gui.model.deformable_separable_conv import (
    deformable_separable_conv,
    deformable_separable_conv_streaming,
    mean_displacement,
)


def random_parameters(b=2, c=3, h=5, w=6, n=3, offset_scale=2.0, dtype=torch.float64, seed=0):
    g = torch.Generator().manual_seed(seed)
    frame = torch.rand(b, c, h, w, generator=g, dtype=dtype)
    vertical = torch.randn(b, n, h, w, generator=g, dtype=dtype)
    horizontal = torch.randn(b, n, h, w, generator=g, dtype=dtype)
    offset_y = (torch.rand(b, n * n, h, w, generator=g, dtype=dtype) * 2 - 1) * offset_scale
    offset_x = (torch.rand(b, n * n, h, w, generator=g, dtype=dtype) * 2 - 1) * offset_scale
    mask = torch.rand(b, n * n, h, w, generator=g, dtype=dtype)
    return frame, vertical, horizontal, offset_y, offset_x, mask


needs_cuda = pytest.mark.skipif(
    not torch.cuda.is_available(), reason="no CUDA device on this machine"
)


def assert_cuda_matches_cpu(conv, seed, batch):
    """Check that `conv` computes the same on CUDA as on the CPU from random float32 parameters
    of a 16×20 frame (5×5 taps, offsets up to 5 px); return those parameters."""
    params = random_parameters(
        b=batch, c=3, h=16, w=20, n=5, offset_scale=5.0, dtype=torch.float32, seed=seed
    )
    cpu = conv(*params)
    cuda = conv(*(t.cuda() for t in params))
    torch.testing.assert_close(cuda.cpu(), cpu, rtol=1e-4, atol=1e-4)
    return params


def bilinear_read(image, y, x):
    """image (C, H, W) read at fractional (y, x), coordinates clamped to the image."""
    _, h, w = image.shape
    y = min(max(y, 0.0), h - 1.0)
    x = min(max(x, 0.0), w - 1.0)
    y0, x0 = math.floor(y), math.floor(x)
    y1, x1 = min(y0 + 1, h - 1), min(x0 + 1, w - 1)
    fy, fx = y - y0, x - x0
    return (
        image[:, y0, x0] * (1 - fy) * (1 - fx)
        + image[:, y0, x1] * (1 - fy) * fx
        + image[:, y1, x0] * fy * (1 - fx)
        + image[:, y1, x1] * fy * fx
    )


def per_pixel_loop(frame, vertical, horizontal, offset_y, offset_x, mask):
    """The formula of the paper written out one pixel and one tap at a time."""
    b, c, h, w = frame.shape
    n = vertical.shape[1]
    r = (n - 1) / 2
    out = torch.zeros_like(frame)
    for bi in range(b):
        for y in range(h):
            for x in range(w):
                total = torch.zeros(c, dtype=frame.dtype)
                for i in range(n):
                    for j in range(n):
                        k = i * n + j
                        weight = vertical[bi, i, y, x] * horizontal[bi, j, y, x]
                        if mask is not None:
                            weight = weight * mask[bi, k, y, x]
                        sy = y + i - r + offset_y[bi, k, y, x].item()
                        sx = x + j - r + offset_x[bi, k, y, x].item()
                        total += weight * bilinear_read(frame[bi], sy, sx)
                out[bi, :, y, x] = total
    return out


@pytest.mark.parametrize("n", [1, 3, 5])
@pytest.mark.parametrize("with_mask", [True, False])
def test_matches_per_pixel_loop(n, with_mask):
    frame, v, h, dy, dx, mask = random_parameters(n=n, offset_scale=3.0, seed=n)
    mask = mask if with_mask else None
    expected = per_pixel_loop(frame, v, h, dy, dx, mask)
    actual = deformable_separable_conv(frame, v, h, dy, dx, mask)
    torch.testing.assert_close(actual, expected, rtol=1e-10, atol=1e-10)


def test_matches_per_pixel_loop_in_float32_with_large_offsets():
    frame, v, h, dy, dx, mask = random_parameters(
        h=4, w=7, n=3, offset_scale=10.0, dtype=torch.float32
    )
    expected = per_pixel_loop(
        frame.double(), v.double(), h.double(), dy.double(), dx.double(), mask.double()
    )
    actual = deformable_separable_conv(frame, v, h, dy, dx, mask)
    torch.testing.assert_close(actual.double(), expected, rtol=1e-4, atol=1e-4)


def test_gradcheck_float64():
    inputs = random_parameters(b=1, c=2, h=4, w=5, n=3, seed=3)
    inputs = tuple(t.clone().requires_grad_(True) for t in inputs)
    assert torch.autograd.gradcheck(deformable_separable_conv, inputs, eps=1e-6, atol=1e-5)


def test_zero_offsets_unit_mask_is_sepconv():
    """With no offsets and masks of one, each pixel is the separable kernel v hᵀ applied to
    the n×n patch around it in the replicate-padded frame (SepConv), computed here with unfold."""
    frame, v, h, dy, dx, _ = random_parameters(b=2, c=3, h=7, w=9, n=5, seed=4)
    zeros = torch.zeros_like(dy)
    ones = torch.ones_like(dy)
    n, b, c, height, width = 5, 2, 3, 7, 9
    padded = F.pad(frame, (n // 2,) * 4, mode="replicate")
    patches = F.unfold(padded, kernel_size=n).view(b, c, n, n, height, width)
    kernel = v[:, :, None] * h[:, None, :]  # (b, n, n, H, W)
    sepconv = (patches * kernel[:, None]).sum(dim=(2, 3))
    torch.testing.assert_close(deformable_separable_conv(frame, v, h, zeros, zeros, ones), sepconv)
    torch.testing.assert_close(deformable_separable_conv(frame, v, h, zeros, zeros, None), sepconv)


def test_kernel_size_one_is_bidirectional_backward_warping():
    """With n = 1 the output of the two frames is k1·m1·warp(I1, flow1) + k2·m2·warp(I2, flow2),
    checked against scipy's bilinear map_coordinates with edge replication."""
    b, c, height, width = 1, 3, 6, 8
    one = random_parameters(b=b, c=c, h=height, w=width, n=1, offset_scale=4.0, seed=5)
    two = random_parameters(b=b, c=c, h=height, w=width, n=1, offset_scale=4.0, seed=6)
    output = sum(deformable_separable_conv(*params) for params in (one, two))

    rows, cols = np.mgrid[0:height, 0:width].astype(np.float64)
    expected = np.zeros((c, height, width))
    for frame, v, h, dy, dx, mask in (one, two):
        blend = (v * h * mask)[0, 0].numpy()
        coords = [rows + dy[0, 0].numpy(), cols + dx[0, 0].numpy()]
        for ch in range(c):
            warped = ndimage.map_coordinates(frame[0, ch].numpy(), coords, order=1, mode="nearest")
            expected[ch] += blend * warped
    np.testing.assert_allclose(output[0].numpy(), expected, rtol=1e-10, atol=1e-10)


def test_integer_offsets_shift_the_frame():
    """A single tap with offset (+1, -2) copies the pixel one row down and two columns left."""
    frame = torch.arange(30, dtype=torch.float64).view(1, 1, 5, 6)
    ones = torch.ones(1, 1, 5, 6, dtype=torch.float64)
    out = deformable_separable_conv(frame, ones, ones, ones * 1.0, ones * -2.0)
    assert out[0, 0, 1, 3].item() == frame[0, 0, 2, 1].item()
    assert out[0, 0, 4, 0].item() == frame[0, 0, 4, 0].item()  # clamped at the borders


def test_mean_displacement_of_a_single_tap_is_its_offset():
    _, v, h, dy, dx, mask = random_parameters(n=1, seed=7)
    my, mx = mean_displacement(v, h, dy, dx, mask)
    torch.testing.assert_close(my, dy[:, 0])
    torch.testing.assert_close(mx, dx[:, 0])


def test_bad_shapes_raise_clear_errors():
    frame, v, h, dy, dx, mask = random_parameters(n=3)
    with pytest.raises(InputError, match="offset_x must have shape"):
        deformable_separable_conv(frame, v, h, dy, dx[:, :4], mask)
    with pytest.raises(InputError, match="odd"):
        deformable_separable_conv(frame, v[:, :2], h[:, :2], dy[:, :4], dx[:, :4], mask[:, :4])
    with pytest.raises(InputError, match=r"\(B, C, H, W\)"):
        deformable_separable_conv(frame[0], v, h, dy, dx, mask)


@needs_cuda
def test_cuda_agrees_with_cpu():
    params = assert_cuda_matches_cpu(deformable_separable_conv, seed=8, batch=2)
    grads = []
    for device in ("cpu", "cuda"):
        leaves = [t.to(device).requires_grad_(True) for t in params]
        deformable_separable_conv(*leaves).square().sum().backward()
        grads.append([leaf.grad.cpu() for leaf in leaves])
    for cpu_grad, cuda_grad in zip(*grads, strict=True):
        torch.testing.assert_close(cuda_grad, cpu_grad, rtol=1e-3, atol=1e-3)


@pytest.mark.parametrize(
    "n, with_mask, size", [(5, True, (7, 9)), (3, False, (1, 6)), (1, True, (4, 1))]
)
def test_streaming_path_agrees_with_the_reference(n, with_mask, size):
    frame, v, h, dy, dx, mask = random_parameters(
        b=2, h=size[0], w=size[1], n=n, offset_scale=6.0, seed=11
    )
    mask = mask if with_mask else None
    torch.testing.assert_close(
        deformable_separable_conv_streaming(frame, v, h, dy, dx, mask),
        deformable_separable_conv(frame, v, h, dy, dx, mask),
        rtol=0,
        atol=1e-12,
    )


def test_streaming_region_reads_the_whole_frame():
    frame, v, h, dy, dx, mask = random_parameters(b=1, h=12, w=10, n=5, offset_scale=8.0, seed=12)
    full = deformable_separable_conv(frame, v, h, dy, dx, mask)
    region = (Ellipsis, slice(3, 9), slice(2, 7))
    part = deformable_separable_conv_streaming(
        frame, v[region], h[region], dy[region], dx[region], mask[region], origin=(3, 2)
    )
    torch.testing.assert_close(part, full[region], rtol=0, atol=1e-12)
    with pytest.raises(InputError, match="offset_x must have shape"):
        deformable_separable_conv_streaming(
            frame, v[region], h[region], dy[region], dx, mask[region]
        )


@needs_cuda
def test_streaming_path_on_cuda_agrees_with_cpu():
    assert_cuda_matches_cpu(deformable_separable_conv_streaming, seed=13, batch=1)
