"""The work of a skillset's handler done by calling transformers directly, as a user
would without the skillset: what make bench-models times the skillset against
(docs/DESIGN.md, "Benchmarks").

Per family: its benchmark task, the inputs of a batch, and the direct call, which loads
the model with the same processor and auto class, runs the processor, the forward or
generate(), and turns the tensors into the outputs the handler returns, so that the
family's compare can tell that both sides did the same work. The references
(skillkit.families) are not reused: they run each input alone through a pipeline, which
is other work than a batched handler call.
"""
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import torch
import transformers

from . import media

TEXTS = (
    "The quick brown fox jumps over the lazy dog.",
    "A journey of a thousand miles begins with a single step.",
    "Reading books every night helps children learn new words and ideas.",
    "The weather was cold, so we stayed inside and played board games all afternoon.",
    "She sells sea shells.",
    "Machine learning models turn raw text into vectors that capture its meaning.",
    "Please remember to water the plants while I am away on holiday next week.",
    "Bright stars shine.",
)
# Photo-like sizes (width, height): the processors resize them, as they would a photo.
IMAGE_SIZES = ((224, 224), (256, 192), (192, 256), (240, 240))
CANDIDATE_LABELS = ("cat", "dog", "car", "tree")
# Univariate series of different lengths (a noisy sine each), for time-series forecasting.
SERIES_LENGTHS = (48, 64, 96, 40)


@dataclass(frozen=True)
class Workload:
    """What a family is benchmarked on: a task, the kind of its inputs ("texts",
    "images", "audio" or "series"), the direct call doing the handler's work, and the options
    of every call."""
    task: str
    inputs: str
    call: Callable
    options: dict = field(default_factory=dict)

    def batch(self, batch_size, seed=0):
        """(input, options) of one handler call on `batch_size` inputs."""
        if self.inputs == "texts":
            return [TEXTS[index % len(TEXTS)] for index in range(batch_size)], dict(self.options)
        if self.inputs == "images":
            return media.images(batch_size, seed, sizes=IMAGE_SIZES), dict(self.options)
        if self.inputs == "series":
            rng = np.random.default_rng(seed)
            lengths = [SERIES_LENGTHS[index % len(SERIES_LENGTHS)] for index in range(batch_size)]
            return [(np.sin(np.arange(n) / 4.0) + rng.normal(0, 0.1, n)).tolist() for n in lengths], dict(self.options)
        return media.audio(batch_size, seed), dict(self.options)


class Direct:
    """A model and its processor loaded as the skillset loads them (the candidate's
    processor class and auto class) on a torch `device`; calling it does the handler's
    work on them."""

    def __init__(self, family, candidate, model_dir, device, generation):
        processor_class = getattr(transformers, candidate["processor_class"])
        decoder = family == "text-decoder"
        # A decoder's prompts are padded on the left, where generation starts.
        self.processor = processor_class.from_pretrained(model_dir, **({"padding_side": "left"} if decoder else {}))
        if decoder and self.processor.pad_token is None:
            self.processor.pad_token = self.processor.eos_token
        model_class = getattr(transformers, candidate["auto_class"])
        self.model = model_class.from_pretrained(model_dir).to(device).eval()
        self.device = device
        self.generation = dict(generation or {}, do_sample=False)
        self.run = FAMILIES[family].call

    def __call__(self, input, **options):
        with torch.inference_mode():
            return self.run(self, input, **options)


def _embed(direct, texts):
    batch = direct.processor(texts, padding=True, truncation=True, return_tensors="pt").to(direct.device)
    hidden = direct.model(**batch).last_hidden_state
    mask = batch["attention_mask"].unsqueeze(-1)
    return {"embeddings": ((hidden * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1e-9)).tolist()}


def _generate_continuations(direct, prompts):
    batch = direct.processor(prompts, padding=True, return_tensors="pt").to(direct.device)
    sequences = direct.model.generate(**batch, **direct.generation, pad_token_id=direct.processor.pad_token_id)
    new_tokens = sequences[:, batch["input_ids"].shape[1]:].tolist()
    return _token_outputs(direct, new_tokens, _ids(direct.model.generation_config.eos_token_id), keep_end=True)


def _generate_text2text(direct, texts):
    batch = direct.processor(texts, padding=True, return_tensors="pt").to(direct.device)
    sequences = direct.model.generate(**batch, **direct.generation)
    # generate() starts every row with the decoder start token, which is not generated.
    ends = _ids(direct.model.generation_config.eos_token_id)
    return _token_outputs(direct, sequences[:, 1:].tolist(), ends, keep_end=True)


def _transcribe_whisper(direct, clips):
    extractor = direct.processor.feature_extractor
    features = extractor(clips, sampling_rate=extractor.sampling_rate, return_tensors="pt").input_features
    sequences = direct.model.generate(features.to(direct.device), **direct.generation)
    config = direct.model.generation_config
    # Whisper's rows stop before end-of-text; a row that ended early is padded after it.
    return _token_outputs(direct, sequences.tolist(), _ids(config.eos_token_id) | _ids(config.pad_token_id),
                          keep_end=False)


def _ids(value):
    """A generation config's token id entry (None, an id or a list of them) as a set."""
    if value is None:
        return set()
    return set(value) if isinstance(value, (list, tuple)) else {value}


def _token_outputs(direct, rows, ends, keep_end):
    """The handler's token_ids (each row cut at its first token of `ends`, that token
    kept or not) and their texts."""
    token_ids = []
    for row in rows:
        cut = next((position for position, token in enumerate(row) if token in ends), None)
        token_ids.append(row if cut is None else row[:cut + keep_end])
    return {"token_ids": token_ids, "texts": direct.processor.batch_decode(token_ids, skip_special_tokens=True)}


def _classify_images(direct, images, top_k=5):
    pixels = direct.processor(images=images, return_tensors="pt").to(direct.device)
    logits = direct.model(**pixels).logits
    scores, indices = logits.softmax(dim=-1).topk(min(top_k, logits.shape[-1]), dim=-1)
    labels = direct.model.config.id2label
    predictions = [[{"label": labels[index], "score": score} for score, index in zip(row_scores, row_indices)]
                   for row_scores, row_indices in zip(scores.tolist(), indices.tolist())]
    return {"logits": logits.tolist(), "predictions": predictions}


def _classify_zero_shot(direct, images, candidate_labels, hypothesis_template="This is a photo of {}."):
    texts = [hypothesis_template.format(label) for label in candidate_labels]
    batch = direct.processor(images=images, text=texts, padding=True, return_tensors="pt").to(direct.device)
    logits = direct.model(**batch).logits_per_image
    scores, indices = logits.softmax(dim=-1).sort(dim=-1, descending=True, stable=True)
    predictions = [[{"label": candidate_labels[index], "score": score} for score, index in zip(row_scores, row_indices)]
                   for row_scores, row_indices in zip(scores.tolist(), indices.tolist())]
    return {"logits_per_image": logits.tolist(), "predictions": predictions}


def _transcribe_ctc(direct, clips):
    extractor = direct.processor.feature_extractor
    texts = []
    # One clip at a time, as the skillset: padding a clip to a longer neighbour's length
    # changes what a group-norm feature encoder (wav2vec2-base and kin) transcribes.
    for clip in clips:
        features = extractor(clip, sampling_rate=extractor.sampling_rate, return_tensors="pt").to(direct.device)
        texts.append(direct.processor.decode(direct.model(**features).logits[0].argmax(dim=-1).tolist()))
    return {"texts": texts}


def _detect_objects(direct, images, threshold=0.5):
    detections, logits, boxes = [], [], []
    labels = direct.model.config.id2label
    # One image at a time, as the skillset: detr's processor pads a batch to its largest
    # image, which a convolutional backbone sees at the borders.
    for image in images:
        outputs = direct.model(**direct.processor(images=[image], return_tensors="pt").to(direct.device))
        found = direct.processor.post_process_object_detection(
            outputs, threshold=threshold, target_sizes=[image.size[::-1]])[0]
        detections.append([{"score": score, "label": labels[label],
                            "box": dict(zip(("xmin", "ymin", "xmax", "ymax"), box))}
                           for score, label, box in zip(found["scores"].tolist(), found["labels"].tolist(),
                                                        found["boxes"].int().tolist())])
        logits.append(outputs.logits[0].tolist())
        boxes.append(outputs.pred_boxes[0].tolist())
    return {"detections": detections, "logits": logits, "pred_boxes": boxes}


def _forecast_timesfm(direct, series):
    # timesfm pads the series to one length itself; freq 0 (high) is its default.
    past = [torch.tensor(values, dtype=torch.float32, device=direct.device) for values in series]
    means = direct.model(past_values=past, freq=[0] * len(past)).mean_predictions
    return {"forecasts": means.float().tolist()}


# Per family: the task benchmarked (its skillset's default), the kind of its inputs,
# the direct call and the options of each call.
FAMILIES = {
    "text-encoder": Workload("feature-extraction", "texts", _embed),
    "text-decoder": Workload("text-generation", "texts", _generate_continuations),
    "text-encoder-decoder": Workload("text2text-generation", "texts", _generate_text2text),
    "speech-seq2seq": Workload("automatic-speech-recognition", "audio", _transcribe_whisper),
    "vision": Workload("image-classification", "images", _classify_images),
    "vision-text-dual-encoder": Workload("zero-shot-image-classification", "images", _classify_zero_shot,
                                         {"candidate_labels": list(CANDIDATE_LABELS)}),
    "audio-ctc": Workload("ctc", "audio", _transcribe_ctc),
    "vision-detection": Workload("object-detection", "images", _detect_objects),
    "time-series": Workload("time-series-forecasting", "series", _forecast_timesfm),
}
