import numpy as np

from skillkit import media


def test_images_are_rgb_of_different_sizes_and_seeded():
    first = media.images(4, seed=1)
    assert [image.mode for image in first] == ["RGB"] * 4
    assert len({image.size for image in first}) == 4
    again = media.images(4, seed=1)
    assert all(np.array_equal(np.asarray(a), np.asarray(b)) for a, b in zip(first, again))
    other = media.images(1, seed=2)[0]
    assert not np.array_equal(np.asarray(first[0]), np.asarray(other))


def test_images_take_sizes_in_turn():
    sizes = [(10, 20), (30, 5)]
    assert [image.size for image in media.images(3, seed=0, sizes=sizes)] == [(10, 20), (30, 5), (10, 20)]


def test_audio_is_float32_mono_16khz_of_different_lengths_and_seeded():
    waves = media.audio(3, seed=0, seconds=(1.0, 0.5, 0.25))
    assert [w.shape for w in waves] == [(16000,), (8000,), (4000,)]
    assert all(w.dtype == np.float32 and np.abs(w).max() <= 1.0 and w.std() > 0.01 for w in waves)
    assert np.array_equal(waves[0], media.audio(1, seed=0)[0])
    assert not np.array_equal(waves[0], media.audio(1, seed=1)[0])


def test_a_clip_written_as_wav_reads_back_exactly():
    clip = media.audio(1, seed=0)[0]
    path = media.wav_file(clip, "clip.wav")
    assert np.array_equal(media.load_clip(path), clip)
    assert media.load_clip(clip) is not None and media.load_clip(list(clip[:3])).dtype == np.float32


def test_png_bytes_decode_to_the_same_image():
    image = media.images(1, seed=0)[0]
    [decoded] = media.pil_images(media.png(image))
    assert np.array_equal(np.asarray(decoded.convert("RGB")), np.asarray(image))
    assert media.pil_images([image, image]) == [image, image]
