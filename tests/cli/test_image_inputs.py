"""How a generated skillset takes its images (`_as_images`, the image families' input
helper): upright RGB, as transformers' pipelines load them, without copying an image
that is upright RGB already. The copies were the skillset's overhead over a direct
transformers call that make bench-models found: two per image, which doubled the
handler's peak memory on vit and clip and cost 40% of a tiny vit's batch of 32."""
import importlib.util
import io

import pytest
from PIL import Image

IMAGE_TYPES = ("vit", "clip")


@pytest.fixture(scope="module")
def skillsets(tmp_path_factory, run_tool):
    out = tmp_path_factory.mktemp("image-skillsets")
    rc, _, err = run_tool("gen-skillset", "-q", "-o", out, *IMAGE_TYPES)
    assert rc == 0, err
    classes = {}
    for model_type in IMAGE_TYPES:
        spec = importlib.util.spec_from_file_location(f"hf_{model_type}", out / f"hf_{model_type}.py")
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        classes[model_type] = getattr(module, f"hf_{model_type}")
    return classes


def jpeg_with_orientation(orientation):
    """A 4x2 JPEG whose EXIF says how to turn it upright."""
    exif = Image.Exif()
    exif[0x0112] = orientation
    encoded = io.BytesIO()
    Image.new("RGB", (4, 2), (200, 30, 30)).save(encoded, format="JPEG", exif=exif.tobytes())
    return encoded.getvalue()


@pytest.mark.parametrize("model_type", IMAGE_TYPES)
def test_image_inputs_an_upright_rgb_image_is_taken_as_it_is_not_copied(skillsets, model_type):
    image = Image.new("RGB", (32, 24), (10, 120, 240))
    [taken] = skillsets[model_type]._as_images([image])
    assert taken is image


@pytest.mark.parametrize("model_type", IMAGE_TYPES)
def test_image_inputs_an_image_with_an_exif_orientation_is_turned_upright(skillsets, model_type):
    [upright, rotated] = skillsets[model_type]._as_images([jpeg_with_orientation(1), jpeg_with_orientation(6)])
    assert upright.size == (4, 2) and rotated.size == (2, 4)
    assert upright.mode == rotated.mode == "RGB"


@pytest.mark.parametrize("model_type", IMAGE_TYPES)
@pytest.mark.parametrize("mode", ["L", "RGBA", "P"])
def test_image_inputs_an_image_of_another_mode_is_converted_to_rgb(skillsets, model_type, mode):
    [taken] = skillsets[model_type]._as_images(Image.new(mode, (8, 8)))
    assert taken.mode == "RGB" and taken.size == (8, 8)
