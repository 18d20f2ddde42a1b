"""Video classifiers and encoders (videomae, timesformer, ...): per video its logits and
top-k labels (video-classification) or its last hidden state (feature-extraction).

The handler's contract (data/families.json's "video" entry): a video (its frames: a
uint8 array frames x height x width x 3, or a list of frames, each a PIL image or a
height x width x 3 uint8 array) or a list of videos in, option top_k (5); `logits` (one
vector per video) and `predictions` (per video, the top_k {"label", "score"} pairs,
best first) out.

The reference does what transformers' video-classification pipeline does once a video
is decoded, for each video alone: with an image processor (videomae's, timesformer's),
the video's first `config.num_frames` frames (the pipeline's frame indices at its
default sampling rate of 1) through the image processor; with a video processor, the
frames sampled by the processor itself (`num_frames`, `do_sample_frames=True`); the
model; then the pipeline's own postprocess for the scores. The pipeline object cannot
be made here (its constructor requires PyAV, to decode files that these cases never
need), so its postprocess is called on a stand-in holding the model.
"""
import functools
import types

import numpy as np
import torch
import transformers
from transformers.models.auto.configuration_auto import CONFIG_MAPPING
from transformers.models.auto.image_processing_auto import IMAGE_PROCESSOR_MAPPING_NAMES
from transformers.models.auto.video_processing_auto import VIDEO_PROCESSOR_MAPPING_NAMES
from transformers.pipelines.video_classification import VideoClassificationPipeline

from .. import media, tiny
from ..compare import Comparison, allclose, missing_outputs, scores_and_predictions
from ..expected import Expected
from . import Case
from .vision import _relatives

# The tiny model sees FRAMES frames of IMAGE_SIZE x IMAGE_SIZE pixels in PATCH_SIZE
# patches (videomae's tubelets pair frames: 2 x 16 patches).
IMAGE_SIZE = 32
PATCH_SIZE = 8
FRAMES = 4
# As the vision family's: at the configs' usual 0.02 two different videos give nearly
# the same logits, and a preprocessing bug would hide within the tolerance.
INITIALIZER_RANGE = 0.3
# Seven labels: more than the default top_k of 5, so the cut is exercised.
LABELS = ("archery", "bowling", "juggling balls", "playing cello", "surfing water", "tai chi", "yoga")


def _processor(model_type, processor_class):
    """The type's own processor of the candidate's kind, resizing to IMAGE_SIZE: its
    video processor, or its image processor (tiny.image_processor_name). A part of a
    composite model that transformers maps none to (videoprism_vision_model) takes the
    composite's, as the vision family's types do (vision._relatives)."""
    table = VIDEO_PROCESSOR_MAPPING_NAMES if processor_class == "AutoVideoProcessor" else IMAGE_PROCESSOR_MAPPING_NAMES
    source = next((name for name in (model_type, *_relatives(model_type, table)) if table.get(name)), model_type)
    if processor_class == "AutoVideoProcessor":
        names = VIDEO_PROCESSOR_MAPPING_NAMES.get(source) or {}
        name = names.get("torchvision") if isinstance(names, dict) else names
    else:
        name = tiny.image_processor_name(source)
    if name is None:
        raise NotImplementedError(f"no {processor_class} class for {model_type!r}: "
                                  "Unrecognized processing class")
    return tiny.resized(getattr(transformers, name)(), IMAGE_SIZE)


def build_tiny(model_type, candidate, out_dir, seed):
    tiny.seed_everything(seed)
    processor = _processor(model_type, candidate["processor_class"])
    config = CONFIG_MAPPING[model_type]()
    overrides = {"image_size": IMAGE_SIZE, "patch_size": PATCH_SIZE, "num_frames": FRAMES,
                 "id2label": dict(enumerate(LABELS)),
                 "label2id": {label: index for index, label in enumerate(LABELS)}}
    if getattr(config, "initializer_range", None) is not None:
        overrides["initializer_range"] = INITIALIZER_RANGE
    tiny.shrink(config, **overrides)
    model = getattr(transformers, candidate["model_class"])(config).eval()
    tiny.save_and_verify(model, processor, out_dir)


def _video(size, frames, seed):
    """`frames` frames of one size (width, height), each its own gradient and noise."""
    return media.images(frames, seed, sizes=(size,))


def cases(plan):
    seed = plan.get("seed", 0)
    # More frames than the model's 4 in the first video: the first four are what the
    # pipeline reads. Frame sizes differ from each other and from the model's 32 x 32.
    six = np.stack([np.asarray(frame) for frame in _video((48, 40), 6, seed)])
    five = _video((40, 72), 5, seed + 1)
    square = np.stack([np.asarray(frame) for frame in _video((96, 96), 4, seed + 2)])
    result = [
        Case("one video as an array of frames", six),
        Case("two videos of different frame sizes", [five, square]),
    ]
    if plan["task"] == "video-classification":
        return result + [Case("one video as a list of PIL frames, top_k 2", five, {"top_k": 2})]
    return result + [Case("one video as a list of PIL frames", five)]


def _videos(input):
    """A case's input as a list of videos, each a list of RGB uint8 frames: one video is
    an array of frames or a list of frames (PIL images or arrays of three dimensions)."""
    first = input[0]
    if isinstance(input, np.ndarray) or hasattr(first, "convert") or np.ndim(first) == 3:
        input = [input]
    return [[np.asarray(frame.convert("RGB")) if hasattr(frame, "convert") else np.asarray(frame)
             for frame in video] for video in input]


def batch_items(input):
    """The videos of a case's input (skillkit.batching): a list of frames is one video."""
    return _videos(input)


@functools.lru_cache(maxsize=1)  # one model at a time: the worker lives long
def _loaded(model_dir, model_class, processor_class):
    model = getattr(transformers, model_class).from_pretrained(model_dir).eval()
    processor = getattr(transformers, processor_class).from_pretrained(model_dir)
    return model, processor


def _model_inputs(model, processor, videos):
    """The pipeline's preprocessing of decoded videos, batched."""
    frames = model.config.num_frames
    if isinstance(processor, transformers.BaseVideoProcessor):
        return processor(videos, num_frames=frames, do_sample_frames=True, return_tensors="pt")
    return processor([video[:frames] for video in videos], return_tensors="pt")


def _hidden_states(model, processor, case):
    expected = Expected({"last_hidden_state": []})
    for video in _videos(case.input):  # each alone
        with torch.inference_mode():
            hidden = model(**_model_inputs(model, processor, [video])).last_hidden_state[0]
        expected["last_hidden_state"].append(hidden.tolist())
    return expected


def _logits(outputs):
    """A classifier's logits, one row of labels per video: a classifier that pools with
    one attention query (videoprism's) gives batch x 1 x labels, whose query axis the
    pipeline's postprocess would rank as if it were the labels' (and fail)."""
    return outputs.logits.flatten(1)


def reference(model_dir, candidate, case, plan):
    model, processor = _loaded(model_dir, candidate["model_class"], candidate["processor_class"])
    if plan["task"] == "feature-extraction":
        return _hidden_states(model, processor, case)
    top_k = case.options.get("top_k", 5)
    stand_in = types.SimpleNamespace(model=model)
    expected = Expected({"logits": [], "predictions": []})
    for video in _videos(case.input):  # each alone
        with torch.inference_mode():
            logits = _logits(model(**_model_inputs(model, processor, [video])))
        expected["logits"].append(logits[0].tolist())
        ranked = VideoClassificationPipeline.postprocess(
            stand_in, types.SimpleNamespace(logits=logits), top_k=top_k or model.config.num_labels)
        expected["predictions"].append([{"label": p["label"], "score": float(p["score"])} for p in ranked])
    return expected


def run_batch(model_dir, candidate, plan, videos):
    """The model run once on `videos`, as the skillset batches them (skillkit.batching):
    per video its logits (its last hidden state for feature-extraction), and its length,
    1: every frame is brought to one size and every video to the model's frame count,
    so nothing is padded."""
    model, processor = _loaded(model_dir, candidate["model_class"], candidate["processor_class"])
    with torch.inference_mode():
        outputs = model(**_model_inputs(model, processor, _videos(list(videos))))
    rows = outputs.last_hidden_state if plan["task"] == "feature-extraction" else _logits(outputs)
    return list(rows.float()), [1] * len(rows)


def compare(expected, actual, plan):
    """Logits allclose within the plan's tolerance and predictions as
    compare.ranked_predictions; hidden states allclose."""
    rtol, atol = plan["tolerance"]["rtol"], plan["tolerance"]["atol"]
    if (missing := missing_outputs(expected, actual)) is not None:
        return missing
    if "predictions" in expected:
        return scores_and_predictions(expected, actual, "logits", rtol, atol)
    result = allclose(expected["last_hidden_state"], actual["last_hidden_state"], rtol, atol)
    return result if not result.ok else Comparison(True, result.max_abs_diff, "last_hidden_state match")
