"""octopus_ros.images: ROS Image / CompressedImage / files -> H x W x 3 uint8 RGB, and back."""
from __future__ import annotations

import array
import io
import time
from types import SimpleNamespace

import numpy as np
import pytest
from PIL import Image as PILImage

from octopus_ros import images
from octopus_ros.images import ImageError

RNG = np.random.default_rng(0)


def _raw(arr: np.ndarray, encoding: str, pad: int = 0, big_endian: bool = False) -> SimpleNamespace:
    """A duck-typed sensor_msgs/Image holding ``arr`` (H x W x C or H x W) with ``pad`` bytes per row."""
    h, w = arr.shape[:2]
    if arr.dtype == np.uint16:
        arr = arr.astype(">u2" if big_endian else "<u2")
    rows = arr.reshape(h, -1).view(np.uint8)
    step = rows.shape[1] + pad
    buf = np.zeros((h, step), np.uint8)
    buf[:, :rows.shape[1]] = rows
    return SimpleNamespace(height=h, width=w, encoding=encoding, step=step, is_bigendian=int(big_endian),
                           data=array.array("B", buf.tobytes()))


@pytest.fixture(scope="module")
def rgb() -> np.ndarray:
    return RNG.integers(0, 256, (48, 64, 3), dtype=np.uint8)


@pytest.mark.parametrize("pad", [0, 3, 64])
def test_rgb8_bgr8_rgba8_bgra8(rgb, pad):
    alpha = np.full(rgb.shape[:2] + (1,), 7, np.uint8)
    cases = {"rgb8": rgb, "bgr8": rgb[:, :, ::-1], "rgba8": np.concatenate([rgb, alpha], 2),
             "bgra8": np.concatenate([rgb[:, :, ::-1], alpha], 2), "8UC3": rgb[:, :, ::-1]}
    for encoding, arr in cases.items():
        out = images.image_msg_to_rgb(_raw(np.ascontiguousarray(arr), encoding, pad))
        assert out.shape == rgb.shape and out.dtype == np.uint8, encoding
        assert out.flags.c_contiguous, encoding
        np.testing.assert_array_equal(out, rgb, err_msg=encoding)


@pytest.mark.parametrize("big_endian", [False, True])
def test_mono8_mono16(big_endian):
    grey = RNG.integers(0, 256, (10, 12), dtype=np.uint8)
    out = images.image_msg_to_rgb(_raw(grey, "mono8", pad=4))
    np.testing.assert_array_equal(out, np.repeat(grey[:, :, None], 3, 2))
    deep = RNG.integers(0, 65536, (10, 12), dtype=np.uint16)
    out16 = images.image_msg_to_rgb(_raw(deep, "mono16", pad=2, big_endian=big_endian))
    np.testing.assert_array_equal(out16[:, :, 0], (deep >> 8).astype(np.uint8))
    assert out16.shape == (10, 12, 3)


def test_last_row_padding_may_be_missing(rgb):
    msg = _raw(rgb, "rgb8", pad=8)
    msg.data = msg.data[:-8]
    np.testing.assert_array_equal(images.image_msg_to_rgb(msg), rgb)


def test_rgb8_is_a_fast_view():
    arr = RNG.integers(0, 256, (480, 640, 3), dtype=np.uint8)
    msg = images.rgb_to_image_msg(arr)
    images.image_msg_to_rgb(msg)
    start = time.perf_counter()
    for _ in range(200):
        out = images.image_msg_to_rgb(msg)
    per_call_ms = (time.perf_counter() - start) / 200 * 1000
    np.testing.assert_array_equal(out, arr)
    assert per_call_ms < 0.5, per_call_ms  # ~0.01 ms here; generous for a loaded CI machine


@pytest.mark.parametrize("encoding", ["rgb8", "bgr8", "mono8"])
def test_round_trip_through_real_message(rgb, encoding):
    from builtin_interfaces.msg import Time

    msg = images.rgb_to_image_msg(rgb, encoding, frame_id="cam", stamp=Time(sec=5, nanosec=7))
    assert (msg.height, msg.width, msg.encoding, msg.header.frame_id) == (48, 64, encoding, "cam")
    assert msg.header.stamp.sec == 5
    out = images.image_msg_to_rgb(msg)
    if encoding == "mono8":
        assert out.shape == rgb.shape and np.all(out[:, :, 0] == out[:, :, 1])
    else:
        np.testing.assert_array_equal(out, rgb)


@pytest.mark.parametrize("fmt", ["png", "jpeg"])
def test_compressed(fmt):
    yy, xx = np.mgrid[0:48, 0:64]
    rgb = np.stack([xx * 4, yy * 5, (xx + yy) * 2], axis=2).astype(np.uint8)  # smooth: JPEG keeps it
    msg = images.rgb_to_compressed_msg(rgb, fmt)
    out = images.compressed_msg_to_rgb(msg)
    assert out.shape == rgb.shape and out.dtype == np.uint8
    if fmt == "png":
        np.testing.assert_array_equal(out, rgb)
    else:
        assert np.abs(out.astype(int) - rgb).mean() < 5
    assert images.check_compressed_header(msg.data)[:2] == (64, 48)


def test_image_files(tmp_path, rgb):
    for name, mode in [("a.png", "RGB"), ("b.png", "RGBA"), ("c.png", "L"), ("d.jpg", "RGB"), ("e.gif", "P")]:
        PILImage.fromarray(rgb).convert(mode).save(tmp_path / name)
        out = images.load_image_file(tmp_path / name)
        assert out.shape == rgb.shape and out.dtype == np.uint8, name
    np.testing.assert_array_equal(images.load_image_file(tmp_path / "a.png"), rgb)
    with pytest.raises(ImageError, match="cannot read image file"):
        images.load_image_file(tmp_path / "missing.png")
    (tmp_path / "bad.png").write_bytes(b"\x89PNG\r\n\x1a\n garbage")
    with pytest.raises(ImageError, match="cannot"):
        images.load_image_file(tmp_path / "bad.png")


@pytest.mark.parametrize("change, match", [
    (dict(encoding="yuv422"), "unknown image encoding"),
    (dict(encoding=""), "unknown image encoding"),
    (dict(step=10), "wrong step"),
    (dict(height=0), "zero size"),
    (dict(width=0), "zero size"),
    (dict(width=-3), "zero size"),
    (dict(width=100000), "absurd"),
    (dict(height=20000, width=20000), "absurd"),
    (dict(data=array.array("B", b"\x00" * 100)), "truncated"),
    (dict(data=array.array("B")), "truncated"),
    (dict(data=array.array("B", b"\x00" * (48 * 192 + 5))), "too long"),
    (dict(data=None), "not a byte buffer"),
    (dict(step="x"), "not a sensor_msgs/Image"),
])
def test_malformed_raw_images(rgb, change, match):
    msg = _raw(rgb, "rgb8")
    for key, value in change.items():
        setattr(msg, key, value)
    with pytest.raises(ImageError, match=match):
        images.image_msg_to_rgb(msg)


def test_not_a_message():
    with pytest.raises(ImageError, match="not a sensor_msgs/Image"):
        images.image_msg_to_rgb(object())
    with pytest.raises(ImageError, match="not a sensor_msgs/CompressedImage"):
        images.compressed_msg_to_rgb(object())


def test_malformed_compressed():
    for data, match in [(b"", "no data"), (b"not an image", "cannot"), (b"\xff\xd8\xff\xe0" + b"\x00" * 40, "cannot")]:
        msg = SimpleNamespace(format="jpeg", data=array.array("B", data))
        with pytest.raises(ImageError, match=match):
            images.compressed_msg_to_rgb(msg)
        with pytest.raises(ImageError):
            images.check_compressed_header(msg.data)
    # A truncated JPEG: the header reads, decoding fails (or Pillow pads it: either way no crash).
    good = images.rgb_to_compressed_msg(RNG.integers(0, 256, (64, 64, 3), dtype=np.uint8), "jpeg")
    cut = SimpleNamespace(format="jpeg", data=good.data[: len(good.data) // 3])
    try:
        out = images.compressed_msg_to_rgb(cut)
        assert out.shape == (64, 64, 3)
    except ImageError:
        pass


def test_absurd_compressed_size_is_rejected_before_decoding():
    # A PNG header claiming 100000 x 100000 pixels (the data is not there): rejected from the header.
    buf = io.BytesIO()
    PILImage.new("L", (8, 8)).save(buf, format="PNG")
    raw = bytearray(buf.getvalue())
    raw[16:24] = (100000).to_bytes(4, "big") * 2  # IHDR width, height (CRC now wrong, size checked first)
    with pytest.raises(ImageError):
        images.check_compressed_header(bytes(raw))
    with pytest.raises(ImageError):
        images.decode_image_bytes(bytes(raw))


def test_numpy_to_message_rejects_bad_arrays():
    for bad, match in [(np.zeros((4, 4, 2), np.uint8), "shape"), (np.zeros((4, 4, 3), np.float32), "uint8"),
                       (np.zeros((0, 4, 3), np.uint8), "zero size")]:
        with pytest.raises(ImageError, match=match):
            images.rgb_to_image_msg(bad)
    with pytest.raises(ImageError, match="unsupported encoding"):
        images.rgb_to_image_msg(np.zeros((4, 4, 3), np.uint8), "yuv422")


def random_malformed_image(rng: np.random.Generator, i: int) -> SimpleNamespace:
    """One of 100 kinds of broken sensor_msgs/Image (shared with the node test)."""
    h, w = int(rng.integers(1, 40)), int(rng.integers(1, 40))
    encoding = ["rgb8", "bgr8", "rgba8", "bgra8", "mono8", "mono16"][i % 6]
    bpp = {"rgb8": 3, "bgr8": 3, "rgba8": 4, "bgra8": 4, "mono8": 1, "mono16": 2}[encoding]
    step = w * bpp
    data = bytes(rng.integers(0, 256, h * step, dtype=np.uint8))
    kind = i % 5
    if kind == 0:  # wrong step
        step = max(0, w * bpp - int(rng.integers(1, w * bpp + 1)))
    elif kind == 1:  # unknown encoding
        encoding = ["yuv422", "bayer_rggb8", "32FC1", "rgb16", "", "RGB 8", "jpeg"][i % 7]
    elif kind == 2:  # truncated data
        data = data[: int(rng.integers(0, max(1, len(data) - step)))]
    elif kind == 3:  # zero size
        h, w = (0, w) if i % 2 else (h, 0)
    else:  # absurd size, data not matching
        h, w = int(rng.integers(17000, 10 ** 6)), int(rng.integers(1, 10 ** 6))
        step = w * bpp
    return SimpleNamespace(height=h, width=w, encoding=encoding, step=step, is_bigendian=0,
                           data=array.array("B", data), header=SimpleNamespace(frame_id=f"bad-{i}"))


def test_100_malformed_images_each_raise_image_error():
    rng = np.random.default_rng(42)
    kinds = set()
    for i in range(100):
        msg = random_malformed_image(rng, i)
        with pytest.raises(ImageError) as info:
            images.image_msg_to_rgb(msg)
        kinds.update(k for k in ("wrong step", "unknown image encoding", "truncated", "zero size", "absurd")
                     if k in str(info.value))
    assert len(kinds) == 5, kinds
