"""The internals in compositing formats: .flo, EXR with named channels, 16-bit PNG; written by
`dsepconv interpolate --dump-intermediates` and by the app's Save the pair's internals."""

import json

import cv2
import numpy as np

from dsepconv_gui.frames.field_files import read_exr, read_flo, write_flo, write_png16

from .command_lines import interpolate_args
from .media import write_noise_pair


def test_flo_and_png16_round_trip(tmp_path):
    rng = np.random.default_rng(0)
    dy, dx = rng.normal(size=(2, 7, 9)).astype(np.float32)
    write_flo(tmp_path / "f.flo", dy, dx)
    back_dy, back_dx = read_flo(tmp_path / "f.flo")
    np.testing.assert_array_equal(back_dy, dy)
    np.testing.assert_array_equal(back_dx, dx)
    raw = (tmp_path / "f.flo").read_bytes()
    assert raw[:4] == b"PIEH" and len(raw) == 12 + 7 * 9 * 2 * 4
    values = np.linspace(0, 1, 63, dtype=np.float32).reshape(7, 9)
    write_png16(tmp_path / "m.png", values)
    image = cv2.imread(str(tmp_path / "m.png"), cv2.IMREAD_UNCHANGED)
    assert image.dtype == np.uint16 and image.max() == 65535
    np.testing.assert_allclose(image / 65535, values, atol=1 / 65535)


def test_dump_intermediates_writes_motion_vectors_and_maps(tmp_path):
    from dsepconv_gui.cli.main import main

    (tmp_path / "pair").mkdir()
    frames = write_noise_pair(tmp_path / "pair", 40, 56, seed=3)
    dump = tmp_path / "dump"
    code = main(interpolate_args(frames, tmp_path / "out.png", "--dump-intermediates", str(dump)))
    assert code == 0
    mean1 = np.load(dump / "frame1_mean_displacement.npy")
    mean2 = np.load(dump / "frame2_mean_displacement.npy")
    motion = read_exr(dump / "motion.exr")
    assert set(motion) == {"forward.u", "forward.v", "backward.u", "backward.v"}
    np.testing.assert_allclose(motion["forward.u"], mean2[1], atol=1e-6)
    np.testing.assert_allclose(motion["forward.v"], -mean2[0], atol=1e-6)  # v points up
    np.testing.assert_allclose(motion["backward.u"], mean1[1], atol=1e-6)
    dy, dx = read_flo(dump / "frame1_mean_displacement.flo")
    np.testing.assert_allclose(np.stack([dy, dx]), mean1, atol=1e-6)
    maps = read_exr(dump / "frame2_maps.exr")
    weight = np.load(dump / "frame2_total_weight.npy")
    np.testing.assert_allclose(maps["weight.Y"], weight, atol=1e-6)
    mask16 = cv2.imread(str(dump / "frame2_mask16.png"), cv2.IMREAD_UNCHANGED)
    mean_mask = np.load(dump / "frame2_mask.npy").mean(axis=0)
    np.testing.assert_allclose(mask16 / 65535, np.clip(mean_mask, 0, 1), atol=1 / 65535)
    manifest = json.loads((dump / "intermediates.json").read_text())
    assert "motion.exr" in manifest["files"] and "frame1_maps.exr" in manifest["files"]
