"""Seeded synthetic inputs for vision and audio tests, and reading them back as files.

Inputs of different sizes/lengths in one batch are what catches padding, resizing and
attention-mask bugs, so the defaults never repeat a size.
"""
import atexit
import io
import os
import shutil
import tempfile

import numpy as np
import soundfile
from PIL import Image

SAMPLE_RATE = 16000
IMAGE_SIZES = ((64, 48), (40, 72), (96, 96), (33, 57))  # (width, height)
AUDIO_SECONDS = (1.0, 0.6, 1.4, 0.35)


def images(n, seed, sizes=IMAGE_SIZES):
    """n RGB PIL images, sizes taken in turn from `sizes` ((width, height) pairs).

    Each is a smooth colour gradient plus noise: structure a vision model responds to,
    so outputs differ per image, not only random pixels.
    """
    rng = np.random.default_rng(seed)
    result = []
    for index in range(n):
        width, height = sizes[index % len(sizes)]
        y, x = np.mgrid[0:height, 0:width].astype(np.float32)
        phase = rng.uniform(0, 2 * np.pi, size=3)
        channels = [np.sin(x / width * np.pi * (c + 1) + y / height * np.pi * (2 - c) + phase[c])
                    for c in range(3)]
        pixels = 127.5 * (1 + np.stack(channels, axis=-1)) + rng.normal(0, 12, (height, width, 3))
        result.append(Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8), mode="RGB"))
    return result


def audio(n, seed, seconds=AUDIO_SECONDS):
    """n float32 mono 16 kHz waveforms in [-1, 1], lengths taken in turn from `seconds`.

    A few tones with a slow amplitude envelope plus noise: speech-like enough to give
    feature extractors non-trivial spectra.
    """
    rng = np.random.default_rng(seed)
    result = []
    for index in range(n):
        length = int(round(seconds[index % len(seconds)] * SAMPLE_RATE))
        t = np.arange(length, dtype=np.float64) / SAMPLE_RATE
        tones = sum(np.sin(2 * np.pi * rng.uniform(100, 3000) * t + rng.uniform(0, 2 * np.pi))
                    for _ in range(3)) / 3
        envelope = 0.5 + 0.5 * np.sin(2 * np.pi * rng.uniform(1, 4) * t)
        wave = 0.6 * envelope * tones + rng.normal(0, 0.02, length)
        result.append(np.clip(wave, -1, 1).astype(np.float32))
    return result


def pil_images(input):
    """A case's image input as a list of PIL images (PNG bytes decoded)."""
    items = input if isinstance(input, list) else [input]
    return [Image.open(io.BytesIO(item)) if isinstance(item, bytes) else item for item in items]


def png(image):
    """The image encoded as PNG bytes, as a handler may be given it."""
    encoded = io.BytesIO()
    image.save(encoded, format="PNG")
    return encoded.getvalue()


# Audio files given to a handler as paths; removed when the process exits.
_scratch = None


def wav_file(clip, name):
    """`clip` written losslessly (32-bit float WAV) to a scratch file; its path."""
    global _scratch
    if _scratch is None:
        _scratch = tempfile.mkdtemp(prefix="skillkit-audio-")
        atexit.register(shutil.rmtree, _scratch, ignore_errors=True)
    path = os.path.join(_scratch, name)
    soundfile.write(path, clip, SAMPLE_RATE, subtype="FLOAT")
    return path


def load_clip(item):
    """A clip as float32 samples: arrays as they are, files read with soundfile."""
    if isinstance(item, (str, os.PathLike)):
        samples, rate = soundfile.read(item, dtype="float32")
        if rate != SAMPLE_RATE:
            raise ValueError(f"{item} is sampled at {rate} Hz, not {SAMPLE_RATE}")
        return samples
    return np.asarray(item, dtype=np.float32)
