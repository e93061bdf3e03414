"""Composite "camera frames": one to three catalog objects pasted on a synthetic background.

Target rule (what an image-conditioned command refers to): the TARGET is the most prominent object of the
frame, i.e. the largest one, near the centre, in front. The renderer guarantees it:
  * the target's longest side is 45-75 % of the frame and its centre lies in the central 40 % box;
  * every distractor's longest side is at most 55 % of the target's, and its visible (alpha) area is at
    most half of the target's visible area;
  * distractors are drawn first, so the target is never occluded.
Frames without a target (context images for text-only commands) hold 1-3 objects of distractor size.

Backgrounds: solid colour, linear gradient, smoothed noise, wall/floor split (with optional floor boards),
stripes and checkerboard; then global brightness/contrast jitter, occasional blur and sensor noise.
Everything is drawn with a numpy Generator, so a frame is a pure function of its seed and inputs.
"""
from __future__ import annotations

from functools import lru_cache

import numpy as np
from PIL import Image, ImageFilter

BACKGROUNDS = ("solid", "gradient", "noise", "floor_wall", "stripes", "checker")
MAX_SIDE = 320   # stamps are downscaled to this once, when first loaded


@lru_cache(maxsize=1024)
def load_cutout(path: str) -> Image.Image:
    """An object's PNG as RGBA, cropped to its visible pixels, longest side <= MAX_SIDE."""
    with Image.open(path) as im:
        im.load()
        if im.mode == "P" and "transparency" in im.info:
            im = im.convert("RGBA")
        rgba = im.convert("RGBA")
    bbox = rgba.getchannel("A").point(lambda a: 255 if a > 8 else 0).getbbox()
    if bbox:
        rgba = rgba.crop(bbox)
    scale = MAX_SIDE / max(rgba.size)
    if scale < 1:
        rgba = rgba.resize((max(1, round(rgba.width * scale)), max(1, round(rgba.height * scale))), Image.LANCZOS)
    return rgba


def _muted_colour(rng: np.random.Generator) -> np.ndarray:
    base = rng.uniform(40, 230, size=3)
    grey = base.mean()
    return np.clip(grey + (base - grey) * rng.uniform(0.2, 0.9), 0, 255)


def background(size: int, rng: np.random.Generator, kind: str | None = None) -> np.ndarray:
    kind = kind or BACKGROUNDS[int(rng.integers(len(BACKGROUNDS)))]
    h = w = size
    if kind == "solid":
        img = np.broadcast_to(_muted_colour(rng), (h, w, 3)).astype(np.float32)
    elif kind == "gradient":
        a, b = _muted_colour(rng), _muted_colour(rng)
        angle = rng.uniform(0, np.pi)
        yy, xx = np.mgrid[0:h, 0:w].astype(np.float32) / size
        t = (np.cos(angle) * xx + np.sin(angle) * yy)
        t = (t - t.min()) / max(1e-6, t.max() - t.min())
        img = a * (1 - t[..., None]) + b * t[..., None]
    elif kind == "noise":
        cells = int(rng.integers(3, 9))
        low = rng.uniform(0, 1, size=(cells, cells, 3)).astype(np.float32)
        low_img = Image.fromarray((low * 255).astype(np.uint8)).resize((w, h), Image.BICUBIC)
        a, b = _muted_colour(rng), _muted_colour(rng)
        t = np.asarray(low_img, dtype=np.float32) / 255.0
        img = a * (1 - t) + b * t
    elif kind == "floor_wall":
        wall, floor = _muted_colour(rng), _muted_colour(rng) * rng.uniform(0.6, 0.95)
        horizon = int(h * rng.uniform(0.35, 0.65))
        img = np.empty((h, w, 3), np.float32)
        img[:horizon] = wall
        shade = np.linspace(0.85, 1.1, h - horizon, dtype=np.float32)[:, None, None]
        img[horizon:] = floor * shade
        if rng.random() < 0.5:   # floor boards
            step = int(rng.integers(14, 40))
            for x in range(int(rng.integers(0, step)), w, step):
                img[horizon:, x:x + 1] *= 0.8
        img[max(0, horizon - 2):horizon + 1] *= 0.75    # skirting line
    elif kind == "stripes":
        a, b = _muted_colour(rng), _muted_colour(rng)
        period = int(rng.integers(12, 48))
        vertical = rng.random() < 0.5
        coord = np.arange(w if vertical else h)
        mask = ((coord // (period // 2)) % 2).astype(np.float32)
        mask = mask[None, :, None] if vertical else mask[:, None, None]
        img = np.broadcast_to(a * (1 - mask) + b * mask, (h, w, 3)).astype(np.float32)
    elif kind == "checker":
        a, b = _muted_colour(rng), _muted_colour(rng)
        cell = int(rng.integers(16, 56))
        yy, xx = np.mgrid[0:h, 0:w]
        mask = (((yy // cell) + (xx // cell)) % 2).astype(np.float32)[..., None]
        img = a * (1 - mask) + b * mask
    else:
        raise ValueError(f"unknown background kind {kind!r} (known: {BACKGROUNDS})")
    return np.ascontiguousarray(img, dtype=np.float32)


def _prepare(path: str, longest: float, rng: np.random.Generator, rotate: float) -> Image.Image:
    cut = load_cutout(path)
    scale = longest / max(cut.size)
    im = cut.resize((max(1, round(cut.width * scale)), max(1, round(cut.height * scale))), Image.BILINEAR)
    if rng.random() < 0.5:
        im = im.transpose(Image.FLIP_LEFT_RIGHT)
    if rotate:
        angle = float(rng.uniform(-rotate, rotate))
        if abs(angle) > 1:
            im = im.rotate(angle, resample=Image.BILINEAR, expand=True)
    return im


def _alpha_area(im: Image.Image) -> int:
    return int((np.asarray(im.getchannel("A")) > 64).sum())


def _paste(canvas: np.ndarray, im: Image.Image, cx: float, cy: float) -> tuple[int, int, int, int]:
    """Alpha-composite `im` centred at (cx, cy) onto the float canvas; returns the clipped bbox."""
    h, w = canvas.shape[:2]
    arr = np.asarray(im, dtype=np.float32)
    ih, iw = arr.shape[:2]
    x0, y0 = int(round(cx - iw / 2)), int(round(cy - ih / 2))
    xa, ya, xb, yb = max(0, x0), max(0, y0), min(w, x0 + iw), min(h, y0 + ih)
    if xa >= xb or ya >= yb:
        return (0, 0, 0, 0)
    src = arr[ya - y0:yb - y0, xa - x0:xb - x0]
    alpha = src[..., 3:4] / 255.0
    canvas[ya:yb, xa:xb] = canvas[ya:yb, xa:xb] * (1 - alpha) + src[..., :3] * alpha
    return (xa, ya, xb, yb)


def _shadow(canvas: np.ndarray, im: Image.Image, cx: float, cy: float, rng: np.random.Generator) -> None:
    alpha = im.getchannel("A").filter(ImageFilter.GaussianBlur(4))
    shadow = Image.new("RGBA", im.size, (0, 0, 0, 0))
    shadow.putalpha(alpha.point(lambda a: int(a * 0.35)))
    dx, dy = rng.uniform(2, 6), rng.uniform(2, 6)
    _paste(canvas, shadow, cx + dx, cy + dy)


def render_frame(target: str | None, distractors: list[str], seed: int, size: int = 224,
                 backgrounds: tuple[str, ...] = BACKGROUNDS) -> tuple[Image.Image, dict]:
    """Render a frame. target/distractors: PNG paths. Returns (RGB image, metadata with boxes)."""
    rng = np.random.default_rng(seed)
    kind = backgrounds[int(rng.integers(len(backgrounds)))]
    canvas = background(size, rng, kind)
    meta = {"background": kind, "target_box": None, "distractor_boxes": []}
    target_im, target_area, target_long = None, None, None
    if target is not None:
        target_long = size * rng.uniform(0.45, 0.75)
        target_im = _prepare(target, target_long, rng, rotate=12)
        target_area = _alpha_area(target_im)
        tcx = size * rng.uniform(0.3, 0.7)
        tcy = size * rng.uniform(0.3, 0.7)
        # keep the target inside the frame (its centre stays in the central box when it fits)
        half_w, half_h = target_im.width / 2, target_im.height / 2
        tcx = min(max(tcx, half_w), size - half_w) if target_im.width <= size else size / 2
        tcy = min(max(tcy, half_h), size - half_h) if target_im.height <= size else size / 2
    for path in distractors:
        limit = (target_long * 0.55) if target_long else size * 0.42
        longest = rng.uniform(0.18, 0.42) * size
        longest = min(longest, limit)
        im = _prepare(path, longest, rng, rotate=20)
        if target_area:
            for _ in range(6):   # keep the target's visible area >= 2x the distractor's
                area = _alpha_area(im)
                if area * 2 <= target_area:
                    break
                longest *= 0.8
                im = _prepare(path, longest, rng, rotate=0)
        cx = rng.uniform(0.1, 0.9) * size
        cy = rng.uniform(0.1, 0.9) * size
        if rng.random() < 0.5:
            _shadow(canvas, im, cx, cy, rng)
        meta["distractor_boxes"].append(_paste(canvas, im, cx, cy))
    if target_im is not None:
        if rng.random() < 0.6:
            _shadow(canvas, target_im, tcx, tcy, rng)
        meta["target_box"] = _paste(canvas, target_im, tcx, tcy)
    # global photometric jitter
    contrast = rng.uniform(0.8, 1.2)
    brightness = rng.uniform(-20, 20)
    canvas = (canvas - 128.0) * contrast + 128.0 + brightness
    if rng.random() < 0.3:
        canvas = canvas + rng.normal(0, rng.uniform(2, 7), size=canvas.shape)
    out = Image.fromarray(np.clip(canvas, 0, 255).astype(np.uint8), "RGB")
    if rng.random() < 0.15:
        out = out.filter(ImageFilter.GaussianBlur(float(rng.uniform(0.4, 1.0))))
    return out, meta
