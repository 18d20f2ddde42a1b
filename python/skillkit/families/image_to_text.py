"""Image-conditioned text without an image-text-to-text class: visual question answering
(vilt), text recognition (the PP-OCR recognisers) and table recognition (slanet,
slanext).

The task is the plan's (the skillset serves one, fixed when it is generated). The
handler's contract is data/families.json's "image-to-text" entry; out, per input:
- visual-question-answering: input `{"image", "question"}`; the answer classifier's
  `logits` and the top_k (5) answers as `predictions` (`label`, `score`), scored as
  transformers 4's visual-question-answering pipeline scored them (a sigmoid per answer:
  a VQA head is trained on soft multi-label targets; transformers 5 dropped the
  pipeline, so the reference writes that rule itself);
- text-recognition: input an image; the recognised `texts` and their `scores` (the mean
  probability of the characters kept), by the image processor's own CTC decoding,
  `post_process_text_recognition`;
- table-recognition: input an image; the table's HTML `structures` (tokens, wrapped in
  html, body and table) and their `scores`, by `post_process_table_recognition`.
Every input is processed alone: the OCR processors size a batch by its widest image.
"""
import functools
import math

import torch
import transformers
from transformers.models.auto.configuration_auto import CONFIG_MAPPING
from transformers.models.auto.processing_auto import PROCESSOR_MAPPING_NAMES

from .. import greedy, media, tiny, tokenizers
from ..compare import Comparison, allclose, missing_outputs, scores_and_predictions, short
from ..expected import Expected
from . import Case

VQA, OCR, TABLE = "visual-question-answering", "text-recognition", "table-recognition"
DOCQA = "document-question-answering"
GENERATE = "text-generation"
# Prompts of different lengths for a text decoder the family serves (trocr's).
PROMPTS = ("the invoice", "total due on the first of the month, to be paid by")
# A document's words and their boxes (0-1000, as the document-question-answering
# pipeline takes them), for questions about two documents of different lengths.
DOCUMENTS = (
    [["invoice", [60, 40, 300, 90]], ["number", [320, 40, 520, 90]], ["42", [540, 40, 600, 90]],
     ["total", [60, 700, 220, 760]], ["due", [240, 700, 330, 760]], ["7", [350, 700, 400, 760]]],
    [["dear", [50, 50, 150, 100]], ["reader", [170, 50, 330, 100]], ["the", [50, 150, 120, 200]],
     ["meeting", [140, 150, 320, 200]], ["is", [340, 150, 380, 200]], ["on", [400, 150, 450, 200]],
     ["monday", [470, 150, 640, 200]], ["at", [50, 250, 100, 300]], ["noon", [120, 250, 230, 300]]],
)
# Seven answers: more than the default top_k of 5, so the cut is exercised.
ANSWERS = ("yes", "no", "2", "red", "cat", "table", "outside")
QUESTIONS = ("what colour is it?", "how many are there in the picture?")
# A recogniser's characters: index 0 is CTC's blank, the last a space (PaddleOCR's
# layout, which the image processor's `character_list` keeps), as many as the tiny
# head's outputs.
CHARACTERS = ["blank", *"abcdefghijklmnopqrstuvwxyz0123456789", " "]
# The side the vision-language processor resizes to (vilt: its shortest edge) and the
# tiny config's image size: a few 32-pixel patches, not a 384-pixel grid.
IMAGE_SIZE = 64
# Wider weights than the configs' 0.02, so that two images differ in their answers'
# scores by far more than the tolerance.
INITIALIZER_RANGE = 0.2
# The width of each of a layout model's six 2-D position embeddings.
SPATIAL = 6
# A table recogniser decodes up to max_text_length structure tokens, one step each:
# the tiny one stops after as many as a small table has.
TABLE_TOKENS = 24
# A text recogniser reads one line: its backbone halves the line's height down to a few
# rows but keeps most of its width, a column per character. pp_lcnet_v3's default
# block strides (every stage's first block 2) are its detection layout, which leaves a
# 48-pixel line two rows high where the recogniser's neck pools three; its recognition
# checkpoints and PPOCRV5MobileRecModelTester stride so, block by block, stage by stage
# (1 keeps the size, [2, 1] halves the height alone, [1, 2] the width alone).
RECOGNITION_STRIDES = ([1], [1, 1], [[2, 1], 1], [[1, 2], 1, 1, 1, 1], [[2, 1], 1, [2, 1], 1])


def _image_processor(model_type, task):
    """The type's image processor: the OCR ones with CHARACTERS, the others at
    IMAGE_SIZE (tiny.image_processor)."""
    if task == VQA:
        return tiny.image_processor(model_type, IMAGE_SIZE)
    if task == DOCQA:  # the words and boxes come with the question: no OCR (pytesseract)
        processor = tiny.image_processor(model_type, IMAGE_SIZE)
        processor.apply_ocr = False
        return processor
    name = tiny.image_processor_name(model_type)
    if name is None or not hasattr(transformers, name):
        raise NotImplementedError(f"no image processor for {model_type!r} ({name})")
    if task == OCR:
        return getattr(transformers, name)(character_list=CHARACTERS)
    return getattr(transformers, name)()


def build_tiny(model_type, candidate, out_dir, seed):
    tiny.seed_everything(seed)
    task = _task_of(candidate)
    config = CONFIG_MAPPING[model_type]()
    overrides = {}
    if task == DOCQA:
        tokenizer = tokenizers.for_model_type(model_type, 200, tokenizers.ROLES)
        # A layout model that reads no pixels (layoutlm) takes its tokenizer alone.
        processor = tokenizer if model_type not in PROCESSOR_MAPPING_NAMES else getattr(
            transformers, PROCESSOR_MAPPING_NAMES[model_type])(_image_processor(model_type, task), tokenizer)
        overrides.update(vocab_size=len(tokenizer), initializer_range=INITIALIZER_RANGE)
        if "input_size" in vars(config):
            overrides["input_size"] = IMAGE_SIZE
        overrides.update(tokenizers.special_token_overrides(model_type, config, tokenizer))
        if "coordinate_size" in vars(config):
            # A token's 2-D position is four coordinate and two shape embeddings side by
            # side, together the model's width (layoutlmv2/v3; their tests: 36 = 6 x 6).
            overrides.update(hidden_size=6 * SPATIAL, coordinate_size=SPATIAL, shape_size=SPATIAL)
    elif task == VQA:
        tokenizer = tokenizers.for_model_type(model_type, 200, tokenizers.ROLES)
        processor = getattr(transformers, PROCESSOR_MAPPING_NAMES[model_type])(
            _image_processor(model_type, task), tokenizer)
        overrides.update(vocab_size=len(tokenizer), image_size=IMAGE_SIZE, initializer_range=INITIALIZER_RANGE,
                         id2label=dict(enumerate(ANSWERS)),
                         label2id={answer: index for index, answer in enumerate(ANSWERS)})
    elif task == GENERATE:
        # A text decoder (trocr's, without its image encoder): its processor over the
        # type's own lossless tokenizer (texts are compared) and image processor.
        tokenizer = tokenizers.for_model_type(model_type, 200, tokenizers.ROLES, lossless=True)
        processor = getattr(transformers, PROCESSOR_MAPPING_NAMES[model_type])(
            tiny.image_processor(model_type, IMAGE_SIZE), tokenizer)
        overrides.update(tokenizers.special_token_overrides(model_type, config, tokenizer))
    elif task == OCR:
        processor = _image_processor(model_type, task)
        overrides["head_out_channels"] = len(CHARACTERS)
        _recognition_strides(getattr(config, "backbone_config", None))
    else:
        processor = _image_processor(model_type, task)
        if "max_text_length" in vars(config):
            overrides["max_text_length"] = TABLE_TOKENS
    tiny.shrink(config, **overrides)
    model = getattr(transformers, candidate["model_class"])(config).eval()
    if task == OCR:
        _draw_convolutions(model)
    tiny.save_and_verify(model, processor, out_dir)


def _recognition_strides(backbone):
    """A backbone laid out block by block (`block_configs`: kernel, in and out channels,
    stride, squeeze-excitation) with the detection layout's strides takes the
    recogniser's (RECOGNITION_STRIDES), where its stages and blocks are as many."""
    blocks = getattr(backbone, "block_configs", None)
    if blocks is None or [len(stage) for stage in blocks] != [len(s) for s in RECOGNITION_STRIDES]:
        return
    backbone.block_configs = [
        [[kernel, into, out, stride, excite] for (kernel, into, out, _, excite), stride in zip(stage, strides)]
        for stage, strides in zip(blocks, RECOGNITION_STRIDES)
    ]


def _draw_convolutions(model):
    """Every convolution's weights drawn as He et al. draw them (normal, fan-in, ReLU's
    gain). The configs' initializer_range (0.02) shrinks a text recogniser's deep
    convolution stack's activations to nothing (measured: 1e-14 after hgnet_v2's
    stages), where every frame's characters tie and CTC reads blank, and 0.2 makes them
    overflow; He's draw keeps their scale, so images read as different texts."""
    for module in model.modules():
        if isinstance(module, torch.nn.Conv2d):
            torch.nn.init.kaiming_normal_(module.weight, nonlinearity="relu")


def _task_of(candidate):
    """The task a candidate's Auto class serves."""
    return {"AutoModelForVisualQuestionAnswering": VQA, "AutoModelForTextRecognition": OCR,
            "AutoModelForTableRecognition": TABLE, "AutoModelForDocumentQuestionAnswering": DOCQA,
            "AutoModelForCausalLM": GENERATE}.get(candidate["auto_class"], VQA)


def cases(plan):
    one, first, second = media.images(3, plan.get("seed", 0))
    if plan["task"] == VQA:
        return [
            Case("one image and a question", {"image": one, "question": QUESTIONS[0]}),
            # Different sizes and question lengths: a batch that pads them together
            # must change nothing.
            Case("two images of different sizes, questions of different lengths",
                 [{"image": first, "question": QUESTIONS[0]}, {"image": second, "question": QUESTIONS[1]}]),
            Case("one image as PNG bytes, top_k 2", {"image": media.png(one), "question": QUESTIONS[1]},
                 {"top_k": 2}),
        ]
    if plan["task"] == GENERATE:
        n = plan["generation"]["max_new_tokens"]
        # min_new_tokens == max_new_tokens: a random model may end at once, and two empty
        # continuations would agree whatever the skillset does.
        fixed = {"max_new_tokens": n, "min_new_tokens": n}
        return [
            Case("one prompt", PROMPTS[0], fixed),
            Case("two prompts of different lengths", list(PROMPTS), fixed),
            Case("one prompt, to its own end", PROMPTS[1], {"max_new_tokens": n}),
        ]
    if plan["task"] == DOCQA:
        first_doc, second_doc = DOCUMENTS
        return [
            Case("one document and a question", {"image": one, "question": "what is the number?",
                                                 "word_boxes": first_doc}),
            # Of different lengths: a batch that pads them together must change nothing.
            Case("two documents of different lengths",
                 [{"image": first, "question": "what is due?", "word_boxes": first_doc},
                  {"image": second, "question": "when is the meeting?", "word_boxes": second_doc}]),
            Case("one document, top_k 3 and answers of at most 2 words",
                 {"image": media.png(second), "question": "who?", "word_boxes": second_doc},
                 {"top_k": 3, "max_answer_len": 2}),
        ]
    return [
        Case("one image", one),
        Case("two images of different sizes", [first, second]),
        Case("an image as PNG bytes and an image", [media.png(second), one]),
    ]


@functools.lru_cache(maxsize=1)  # one model at a time: the worker lives long
def _load(model_dir, model_class):
    processor = transformers.AutoProcessor.from_pretrained(model_dir)
    model = getattr(transformers, model_class).from_pretrained(model_dir).eval()
    return processor, model


def _answers(processor, model, case):
    top_k = case.options.get("top_k", 5)
    expected = Expected({"logits": [], "predictions": []})
    for item in case.input if isinstance(case.input, list) else [case.input]:  # each alone
        [image] = media.pil_images(item["image"])
        inputs = processor(images=image.convert("RGB"), text=item["question"], return_tensors="pt")
        with torch.inference_mode():
            logits = model(**inputs).logits[0]
        scores = logits.sigmoid()
        ranked = scores.argsort(descending=True, stable=True)[:top_k].tolist()
        expected["logits"].append(logits.tolist())
        expected["predictions"].append([{"label": model.config.id2label[i], "score": float(scores[i])}
                                        for i in ranked])
    return expected


def _spans(start_logits, end_logits, context, top_k, max_answer_len):
    """The best answer spans of one input, by the document-question-answering pipeline's
    rule: the context's tokens and the first (classifier) token share one softmax each
    for start and end, the classifier token then scores 0; a span ends at or after its
    start, spans at most max_answer_len tokens, and scores its start's times its end's
    probability. (start, end, score) best first, context spans only."""
    allowed = [index == 0 or inside for index, inside in enumerate(context)]

    def probabilities(logits):
        masked = [value if ok else -10000.0 for value, ok in zip(logits, allowed)]
        top = max(masked)
        exps = [math.exp(value - top) for value in masked]
        total = sum(exps)
        return [value / total for value in exps]

    starts, ends = probabilities(start_logits), probabilities(end_logits)
    starts[0] = ends[0] = 0.0
    spans = [(starts[i] * ends[j], i, j) for i in range(len(starts))
             for j in range(i, min(len(ends), i + max_answer_len)) if context[i] and context[j]]
    spans.sort(key=lambda span: -span[0])
    return [(i, j, score) for score, i, j in spans[:top_k]]


def _token_boxes(inputs, boxes, sep_token_id):
    """Per token its box, as the document-question-answering pipeline gives layoutlm
    them: a document word's token its word's box, a separator [1000] * 4, the rest
    (the question, the classifier token) [0] * 4."""
    result = []
    for token, part, word in zip(inputs["input_ids"][0].tolist(), inputs.sequence_ids(0), inputs.word_ids(0)):
        result.append(boxes[word] if part == 1 else [1000] * 4 if token == sep_token_id else [0] * 4)
    return result


def _document_answers(processor, model, case):
    top_k, longest = case.options.get("top_k", 1), case.options.get("max_answer_len", 15)
    expected = Expected({"answers": []})
    for item in case.input if isinstance(case.input, list) else [case.input]:  # each alone
        [image] = media.pil_images(item["image"])
        words = [word for word, _ in item["word_boxes"]]
        boxes = [box for _, box in item["word_boxes"]]
        if hasattr(processor, "image_processor"):
            inputs = processor(images=image.convert("RGB"), text=item["question"], text_pair=words, boxes=boxes,
                               truncation="only_second", return_tensors="pt")
        else:  # layoutlm: the question's words and the document's, each token with its word's box
            inputs = processor(text=item["question"].split(), text_pair=words, is_split_into_words=True,
                               truncation="only_second", return_tensors="pt")
            inputs["bbox"] = torch.tensor([_token_boxes(inputs, boxes, processor.sep_token_id)])
        word_ids = inputs.word_ids(0)
        context = [sequence == 1 for sequence in inputs.sequence_ids(0)]
        with torch.inference_mode():
            outputs = model(**inputs)
        # The text's tokens' logits: layoutlmv3 scores its image patches after them.
        text = len(context)
        spans = _spans(outputs.start_logits[0, :text].tolist(), outputs.end_logits[0, :text].tolist(), context,
                       top_k, longest)
        expected["answers"].append([{"score": score, "answer": " ".join(words[word_ids[i]:word_ids[j] + 1]),
                                     "start": word_ids[i], "end": word_ids[j]} for i, j, score in spans])
    return expected


def _continuations(processor, model, case):
    """Each prompt alone, generated greedily: the new tokens up to and including the
    first end-of-sequence, their text, and greedy's margins."""
    end = model.generation_config.eos_token_id
    end_ids = set(end) if isinstance(end, list) else {end}
    expected = Expected({"token_ids": [], "texts": []})
    for text in [case.input] if isinstance(case.input, str) else case.input:
        inputs = processor(text=text, return_tensors="pt")
        with torch.inference_mode():
            scored = model.generate(**inputs, **case.options, do_sample=False, num_beams=1,
                                    return_dict_in_generate=True, output_scores=True)
        generated = scored.sequences[0, inputs["input_ids"].shape[1]:].tolist()
        token_ids = next((generated[:at + 1] for at, token in enumerate(generated) if token in end_ids), generated)
        expected["token_ids"].append(token_ids)
        expected["texts"].append(processor.batch_decode([token_ids], skip_special_tokens=True)[0])
        expected.margins.append(greedy.margins(scored.scores))
    return expected


def _recognised(processor, model, case, task):
    keys = ("texts", "scores") if task == OCR else ("structures", "scores")
    expected = Expected({key: [] for key in keys})
    for image in media.pil_images(case.input):  # each alone
        inputs = processor(images=image.convert("RGB"), return_tensors="pt")
        with torch.inference_mode():
            outputs = model(**inputs)
        if task == OCR:
            [result] = processor.post_process_text_recognition(outputs)
            expected["texts"].append(result["text"])
            expected["scores"].append(float(result["score"]))
        else:
            result = processor.post_process_table_recognition(outputs)
            expected["structures"].append(list(result["structure"]))
            expected["scores"].append(float(result["structure_score"]))
    return expected


def reference(model_dir, candidate, case, plan):
    processor, model = _load(model_dir, candidate["model_class"])
    if plan["task"] == VQA:
        return _answers(processor, model, case)
    if plan["task"] == DOCQA:
        return _document_answers(processor, model, case)
    if plan["task"] == GENERATE:
        return _continuations(processor, model, case)
    return _recognised(processor, model, case, plan["task"])


def compare(expected, actual, plan):
    """VQA: logits allclose and the answers ranked alike; recognition: texts (or table
    structures) equal and scores allclose, input by input."""
    rtol, atol = plan["tolerance"]["rtol"], plan["tolerance"]["atol"]
    if (missing := missing_outputs(expected, actual)) is not None:
        return missing
    if "predictions" in expected:
        return scores_and_predictions(expected, actual, "logits", rtol, atol)
    if "answers" in expected:
        return _compare_answers(expected["answers"], actual["answers"], rtol, atol)
    if "token_ids" in expected:
        return greedy.compare(expected, actual, plan)
    key = "texts" if "texts" in expected else "structures"
    if actual[key] != expected[key]:
        return Comparison(False, None, f"{key}: {short(actual[key])}, expected {short(expected[key])}")
    scores = allclose(expected["scores"], actual["scores"], rtol, atol)
    if not scores.ok:
        return Comparison(False, scores.max_abs_diff, f"scores: {scores.message}")
    return Comparison(True, scores.max_abs_diff, f"{key} equal, scores match")


def _compare_answers(expected, actual, rtol, atol):
    """Per input the same spans (answer, start, end) in the same order, scores allclose."""
    if not isinstance(actual, list) or len(actual) != len(expected):
        return Comparison(False, None, f"answers: {len(expected)} inputs expected, got {short(actual)}")
    worst = 0.0
    for index, (want, got) in enumerate(zip(expected, actual)):
        spans = [(a["answer"], a["start"], a["end"]) for a in want]
        if not isinstance(got, list) or [(a.get("answer"), a.get("start"), a.get("end")) for a in got] != spans:
            return Comparison(False, None, f"answers[{index}]: {short(got)}, expected {short(want)}")
        scores = allclose([a["score"] for a in want], [a["score"] for a in got], rtol, atol)
        if not scores.ok:
            return Comparison(False, scores.max_abs_diff, f"answers[{index}] scores: {scores.message}")
        worst = max(worst, scores.max_abs_diff)
    return Comparison(True, worst, "answers match")
