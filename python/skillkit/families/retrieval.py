"""Late-interaction document retrievers (colpali): retrieval.

The handler's contract (data/families.json's "retrieval" entry): a dict of "images"
(page images) and "queries" (texts), either or both, in; out, per image and per query
its multi-vector embedding (tokens x dim, the model's `embeddings` at the tokens its
processor's attention mask keeps: `image_embeddings`, `query_embeddings`) and, given
both, `scores` (queries x images) as the processor's score_retrieval computes them (the
sum over query tokens of the best dot product with the image's tokens). The reference
runs the model on each image (process_images) and each query (process_queries) alone,
and scores them with the processor's own score_retrieval.

The tiny model is built as the image-text-to-text family builds a vision-language model
(its tokenizer, token ids, patch grid and processor helpers, reused); colpali's
PaliGemma builds so, colqwen2's Qwen2-VL too (its one task, `pretraining`, is its
retrieval head, served as retrieval under that name). colmodernvbert has no image
processor: it fails as such.
"""
import importlib
import inspect
import re

import torch
import transformers
from transformers import AutoProcessor
from transformers.models.auto.configuration_auto import CONFIG_MAPPING

from .. import media, tiny, tokenizers
from ..compare import outputs_allclose
from ..expected import Expected
from . import Case
from . import image_text_to_text as vlm

QUERIES = ("What is the total?", "Which page shows the red car near the river at night?")


def build_tiny(model_type, candidate, out_dir, seed):
    tiny.seed_everything(seed)
    model_class = getattr(transformers, candidate["model_class"])
    processor_class = vlm._processor_class(model_type, model_class)
    tokenizer, named = tokenizers.for_processor(model_type, processor_class, vlm.VOCAB_SIZE, vlm.ROLES)
    _fallback_tokens(processor_class, tokenizer, named)
    config = CONFIG_MAPPING[model_type]()
    tokenizers.repoint_token_ids(config, tokenizer, named)
    tiny.shrink(config)
    vlm._even_patch_grid(config)
    vlm._tile_image_tokens(config)
    vlm._clamp_feature_layers(config)
    vlm._scale_mrope_sections(config, _modeling_sources(model_class, config))
    processor = vlm._processor(model_type, processor_class, tokenizer, config, model_class(config))
    # The processor may add tokens of its own and names its image token: the config
    # follows, and the model is built from it anew.
    tokenizers.repoint_token_ids(config, tokenizer, named, processor)
    tiny.seed_everything(seed)
    model = model_class(config).eval()
    tiny.save_and_verify(model, processor, out_dir)


# A processor's token read off the tokenizer, with the literal it falls back on where the
# tokenizer names none: colqwen2's `"<|image_pad|>" if not hasattr(tokenizer, "image_token")`.
_FALLBACK_TOKEN = re.compile(r"""["'](<[^"']+>)["']\s+if not hasattr\(tokenizer, ["'](\w+_token)["']\)""")


def _fallback_tokens(processor_class, tokenizer, named):
    """The tokenizer's named tokens that its processor also knows as literals: the
    literal. colqwen2's page prompt (visual_prompt_prefix) is a literal holding
    "<|image_pad|>", which a real Qwen2 tokenizer names nowhere, so the processor falls
    back on it; a tiny tokenizer naming its image_token "<image>" instead gave a prompt
    without an image token."""
    source = inspect.getsource(importlib.import_module(processor_class.__module__))
    found = {name: token for token, name in _FALLBACK_TOKEN.findall(source) if name in named}
    if found:
        named.update(found)
        tokenizer._set_model_specific_special_tokens(found)


def _modeling_sources(model_class, config):
    """The modeling code of the model and of the models its sub-configs name
    (colqwen2's vlm_config: qwen2_vl's, where the rotary sections' default is)."""
    modules = [importlib.import_module(model_class.__module__)]
    for sub in tiny.configs(config):
        try:
            modules.append(importlib.import_module(f"transformers.models.{sub.model_type}.modeling_{sub.model_type}"))
        except ImportError:  # a sub-config of a model's part (qwen2_vl_text)
            continue
    return "\n".join(inspect.getsource(module) for module in dict.fromkeys(modules))


def cases(plan):
    one, first, second = media.images(3, plan.get("seed", 0))
    return [
        Case("two pages and two queries of different lengths", {"images": [first, second], "queries": list(QUERIES)}),
        Case("one page", {"images": one}),
        Case("one query", {"queries": QUERIES[0]}),
    ]


def _embedded(model, batch):
    """The embeddings of a batch of one at the tokens its attention mask keeps."""
    with torch.inference_mode():
        embeddings = model(**batch).embeddings[0]
    return embeddings[batch["attention_mask"][0].bool()]


def reference(model_dir, candidate, case, plan):
    model = getattr(transformers, candidate["model_class"]).from_pretrained(model_dir).eval()
    processor = AutoProcessor.from_pretrained(model_dir)
    expected = Expected()
    images = queries = None
    if "images" in case.input:
        images = [_embedded(model, processor.process_images(images=[image]))
                  for image in media.pil_images(case.input["images"])]
        expected["image_embeddings"] = [each.tolist() for each in images]
    if "queries" in case.input:
        texts = case.input["queries"]
        queries = [_embedded(model, processor.process_queries(text=[text]))
                   for text in ([texts] if isinstance(texts, str) else texts)]
        expected["query_embeddings"] = [each.tolist() for each in queries]
    if images and queries:
        expected["scores"] = processor.score_retrieval(queries, images).tolist()
    return expected


def compare(expected, actual, plan):
    """Every embedding (of each image and query: their token counts differ) and the
    scores allclose within the plan's tolerance."""
    return outputs_allclose(expected, actual, plan, per_entry=[key for key in expected if key != "scores"])
