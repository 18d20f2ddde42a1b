"""data/registry.json against the installed transformers, its schema, the family
declarations of data/families.json, and the rules of scripts/REGISTRY.md (spot checks)."""
import importlib
import importlib.util
import json
import re
from pathlib import Path

import jsonschema
import pytest
import transformers
from transformers.models.auto.configuration_auto import CONFIG_MAPPING_NAMES

ROOT = Path(__file__).resolve().parents[2]
REGISTRY = ROOT / "data" / "registry.json"
SCHEMA = ROOT / "schemas" / "registry.schema.json"
SCRIPT = ROOT / "scripts" / "build_registry.py"
FAMILIES = ROOT / "data" / "families.json"
TEMPLATES = ROOT / "templates" / "skillset"
SKILLKIT_FAMILIES = ROOT / "python" / "skillkit" / "families"
PROCESSOR_KINDS = ["tokenizer", "image_processor", "feature_extractor", "processor",
                   "video_processor"]


@pytest.fixture(scope="module")
def text():
    return REGISTRY.read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def registry(text):
    return json.loads(text)


@pytest.fixture(scope="module")
def models(registry):
    return registry["models"]


@pytest.fixture(scope="module")
def builder():
    spec = importlib.util.spec_from_file_location("build_registry", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# ----------------------------------------------------------------- against transformers
def test_transformers_version_matches(registry):
    assert registry["transformers_version"] == transformers.__version__, (
        f"data/registry.json was made from transformers {registry['transformers_version']}, "
        f"installed is {transformers.__version__}: run `make registry`")


def test_covers_every_config_type(models):
    missing = sorted(set(CONFIG_MAPPING_NAMES) - set(models))
    extra = sorted(set(models) - set(CONFIG_MAPPING_NAMES))
    assert not missing, f"model types missing from the registry: {missing[:20]}"
    assert not extra, f"model types the installed transformers lacks: {extra[:20]}"
    for model_type, config_class in CONFIG_MAPPING_NAMES.items():
        assert models[model_type]["config_class"] == config_class, model_type


def test_file_is_what_the_script_writes(builder, text):
    assert builder.dumps(builder.build()) == text, (
        "data/registry.json differs from what scripts/build_registry.py writes now: "
        "run `make registry`")


def test_task_classes_match_the_tables(builder, registry, models):
    from transformers.models.auto import modeling_auto
    for task, info in registry["tasks"].items():
        table = getattr(modeling_auto, info["mapping"])
        for model_type, value in table.items():
            if model_type in models:
                assert models[model_type]["tasks"][task] == builder.first_name(value), (
                    task, model_type)
        if info["auto_class"] is not None:
            assert hasattr(transformers, info["auto_class"]), info["auto_class"]


def test_sub_configs_match_transformers(builder):
    """The script reads sub_configs from the source (fast); check it against the classes."""
    from transformers.models.auto.configuration_auto import (
        CONFIG_MAPPING, model_type_to_module_name)
    root = Path(transformers.__file__).parent
    index = builder.scan_config_classes(root / "models")
    wrong = []
    for model_type, class_name in CONFIG_MAPPING_NAMES.items():
        cls = builder.find_config_class(
            index, class_name, root / "models" / model_type_to_module_name(model_type))
        assert cls is not None, class_name
        read = {key: name if kind == "class" else "AutoConfig"
                for key, (kind, name) in builder.sub_configs_of(index, cls).items()}
        real = {key: value.__name__
                for key, value in (CONFIG_MAPPING[model_type].sub_configs or {}).items()}
        if read != real:
            wrong.append((model_type, read, real))
    assert not wrong, wrong[:5]


def test_processor_tables_match_transformers(builder, models):
    """Every class name transformers' imported tables give is in the registry."""
    for kind, table, module in builder.PROCESSOR_TABLES:
        live = getattr(importlib.import_module(f"transformers.models.auto.{module}"), table)
        for model_type, value in live.items():
            names = builder.names_of(value)
            if model_type in models:
                assert set(names) <= set(models[model_type]["processors"][kind]), (
                    kind, model_type, names)
        for model_type, entry in models.items():
            if entry["processors"][kind]:
                assert model_type in live, (kind, model_type)


def test_architectures_resolve_as_transformers_does(registry, models):
    """A class several types list goes to the model type of the class's own config class
    (GPT2LMHeadModel: gpt2, not gpt-sw3); every listed class has its entry."""
    listed = {}
    for model_type, entry in models.items():
        for name in entry["tasks"].values():
            listed.setdefault(name, set()).add(model_type)
    architectures = registry["architectures"]
    assert set(architectures) == set(listed)
    shared = {name: types for name, types in listed.items() if len(types) > 1}
    assert shared, "no class is listed by several types any more: keep a case here"
    for name, types in listed.items():
        assert architectures[name] in types, name
    wrong = {name: (architectures[name], getattr(transformers, name).config_class.model_type)
             for name in shared
             if architectures[name] != getattr(transformers, name).config_class.model_type}
    assert not wrong, wrong
    assert architectures["GPT2LMHeadModel"] == "gpt2"


# --------------------------------------------------------------------- families
@pytest.fixture(scope="module")
def declared(builder):
    return builder.load_families(FAMILIES)


def test_registry_carries_the_family_declarations(builder, registry, declared):
    assert registry["families"] == {name: builder.registry_family(fam)
                                    for name, fam in declared.items()}


def _with_partials(path):
    """A template's text with that of every partial it includes, and theirs."""
    text = path.read_text(encoding="utf-8")
    for name in re.findall(r"{{> *(\w+) *}}", text):
        text += _with_partials(TEMPLATES / f"_{name}.py.mustache")
    return text


def test_templates_skillkit_modules_and_declarations_agree(declared, models):
    """A family with a template has a skillkit module and vice versa, and both have a
    declaration with a handler contract the template answers (every output key) and a
    reference type of the family, servable, for the pipeline and the tests to run."""
    templated = {p.name.removesuffix(".py.mustache") for p in TEMPLATES.glob("*.py.mustache")
                 if not p.name.startswith("_")}
    modules = {p.stem.replace("_", "-") for p in SKILLKIT_FAMILIES.glob("*.py")
               if not p.name.startswith("_")}
    assert templated == modules
    assert templated <= set(declared)
    assert {name for name, fam in declared.items() if fam.get("reference_type")} == templated
    for family in templated:
        fam = declared[family]
        reference = models.get(fam.get("reference_type"), {})
        assert reference.get("family") == family and reference["servable"], family
        assert fam["default_task"] in fam["handler"], family
        assert fam["processors"] and fam["tolerance"].keys() == {"rtol", "atol"}, family
        source = _with_partials(TEMPLATES / f"{family}.py.mustache")
        for task, contract in fam["handler"].items():
            assert {"input", "options", "outputs"} <= contract.keys(), (family, task)
            for key in contract["outputs"]:
                assert f'"{key}"' in source, (family, task, key)


def test_a_last_claim_takes_every_type_no_other_claims(builder, declared):
    rank, family, claim = builder.claims_in_order(declared)[-1]
    assert family == "component" and set(claim) == {"rank"}


def test_no_servable_type_is_left_in_a_bucket(registry, models):
    """The last claim takes only parts of other models: every type that can be served
    on its own is classified into a family with a default task, and none is "other"."""
    assert "other" not in registry["families"]
    stray = sorted(t for t, e in models.items() if e["servable"] and e["family"] == "component")
    assert not stray, stray
    for model_type, entry in models.items():
        if entry["servable"]:
            assert registry["families"][entry["family"]]["default_task"], model_type


@pytest.mark.parametrize("model_type,family,task", [
    ("informer", "time-series", "time-series-forecasting"),
    ("autoformer", "time-series", "time-series-forecasting"),
    ("time_series_transformer", "time-series", "time-series-forecasting"),
    ("patchtst", "time-series", "time-series-forecasting"),
    ("groupvit", "vision-text-dual-encoder", "feature-extraction"),
    ("aimv2", "vision-text-dual-encoder", "feature-extraction"),
    ("clap", "multimodal-embedding", "feature-extraction"),
    ("embedding_gemma2", "multimodal-embedding", "feature-extraction"),
    ("rt_detr_resnet", "vision", "backbone"),
    ("sam2_vision_model", "vision", "feature-extraction"),
    ("qwen2_audio_encoder", "audio-encoder", "feature-extraction"),
    ("mimi_decoder", "audio-encoder", "feature-extraction"),
    ("colpali", "retrieval", "retrieval"),
    ("colqwen2", "retrieval", "pretraining"),
    ("decision_transformer", "decision", "feature-extraction"),
    ("jev", "decision", "decision"),
    ("voxtral_realtime_text", "text-decoder", "feature-extraction"),
    ("muse_glimmer_assistant", "generation-assistant", "feature-extraction"),
])
def test_types_once_filed_under_other_land_in_the_family_that_serves_them(
        models, model_type, family, task):
    entry = models[model_type]
    assert entry["servable"] and entry["family"] == family and entry["default_task"] == task


def test_forecasting_heads_outside_the_prediction_table_are_listed(models):
    """transformers' time-series prediction table lists timesfm only; the registry adds the
    `…ForPrediction` class of each type that defines one (read from the source)."""
    assert models["informer"]["tasks"]["time-series-forecasting"] == "InformerForPrediction"
    assert models["patchtst"]["tasks"]["time-series-forecasting"] == "PatchTSTForPrediction"
    assert models["timesfm"]["tasks"]["time-series-forecasting"] == "TimesFmModelForPrediction"
    for entry in models.values():
        name = entry["tasks"].get("time-series-forecasting")
        if name:
            assert getattr(transformers, name).config_class.__name__ == entry["config_class"], name


def test_main_input_names_read_from_the_source_match_transformers(builder, models):
    """The `main_input_any` condition reads main_input_name from the modeling source;
    checked here, on every servable type with only bare-feature classes (the types that
    condition classifies), against the imported classes."""
    root = Path(transformers.__file__).parent / "models"
    from transformers.models.auto.configuration_auto import model_type_to_module_name

    checked = 0
    for model_type, entry in models.items():
        if not entry["servable"] or set(entry["tasks"]) - builder.BARE_TASKS:
            continue
        package = root / model_type_to_module_name(model_type)
        for name in entry["tasks"].values():
            cls = getattr(transformers, name, None)
            if cls is None:
                continue  # not exported (VoxtralRealtimeTextModel)
            assert builder.main_input_name(package, name) == cls.main_input_name, (model_type, name)
            checked += 1
    assert checked > 40


def test_processor_parts_read_from_the_source_match_transformers(builder, models):
    """The `processor_takes_all` condition reads the parts a processor's constructor
    takes from the processing source; checked against the imported classes'
    get_attributes() on every processor class of the registry that transformers exports."""
    root = Path(transformers.__file__).parent / "models"
    from transformers.models.auto.configuration_auto import model_type_to_module_name

    kinds = builder.PROCESSOR_PARTS
    checked = 0
    for model_type, entry in models.items():
        for name in entry["processors"]["processor"]:
            cls = getattr(transformers, name, None)
            package = root / model_type_to_module_name(model_type)
            if cls is None or not (package / f"processing_{model_type_to_module_name(model_type)}.py").exists():
                continue
            read = builder.processor_parts(package, name)
            if not read:
                continue  # defined elsewhere or without an __init__ of its own
            try:
                attributes = cls.get_attributes()
            except ImportError:
                continue  # a dummy: its packages are not installed (pop2piano's)
            assert read == set(attributes) & kinds, (model_type, name)
            checked += 1
    assert checked > 50


def test_an_audio_language_model_whose_tables_list_no_feature_extractor_is_claimed_by_its_processor(models):
    # musicflamingo: MusicFlamingoProcessor takes a feature_extractor and a tokenizer,
    # neither of which transformers' tables list for the type.
    assert models["musicflamingo"]["processors"]["feature_extractor"] == []
    assert models["musicflamingo"]["family"] == "audio-text-to-text"


@pytest.mark.parametrize("field", ["claims", "default_task", "handler", "tolerance"])
def test_a_declaration_without_a_field_the_tools_need_is_refused(builder, tmp_path, field):
    doc = json.loads(FAMILIES.read_text(encoding="utf-8"))
    del doc["families"]["text-encoder"][field]
    path = tmp_path / "families.json"
    path.write_text(json.dumps(doc))
    with pytest.raises(builder.RegistryError, match=f"family 'text-encoder' lacks {field}"):
        builder.load_families(path)


def test_registry_md_and_design_md_refer_to_the_declarations():
    """The family facts are not repeated: both documents point at data/families.json."""
    for doc in (ROOT / "scripts" / "REGISTRY.md", ROOT / "docs" / "DESIGN.md"):
        assert "data/families.json" in doc.read_text(encoding="utf-8"), doc


# --------------------------------------------------------------------- form
def test_validates_against_schema(registry):
    from referencing import Registry, Resource

    schema = json.loads(SCHEMA.read_text(encoding="utf-8"))
    jsonschema.Draft202012Validator.check_schema(schema)
    # The schema refers to others of schemas/ (batch-policy.schema.json) by file name.
    others = [json.loads(path.read_text(encoding="utf-8")) for path in SCHEMA.parent.glob("*.schema.json")]
    schemas = Registry().with_resources((other["$id"], Resource.from_contents(other)) for other in others)
    jsonschema.Draft202012Validator(schema, registry=schemas).validate(registry)


def test_is_canonical(text, registry):
    assert text.endswith("\n") and not text.endswith("\n\n")
    assert text == json.dumps(registry, indent=1, sort_keys=True, ensure_ascii=True) + "\n"


def test_references_resolve(registry, models):
    families, tasks = registry["families"], registry["tasks"]
    orders = sorted(info["order"] for info in tasks.values())
    assert orders == list(range(len(tasks)))
    for name, family in families.items():
        assert family["default_task"] is None or family["default_task"] in tasks, name
    for model_type, entry in models.items():
        assert entry["family"] in families, model_type
        assert set(entry["tasks"]) <= set(tasks), model_type
        assert set(entry["processors"]) == set(PROCESSOR_KINDS), model_type
        assert set(entry["sub_config_of"]) <= set(models), model_type
        assert entry["servable_reason"], model_type
        if entry["servable"]:
            assert entry["tasks"], model_type
            assert entry["default_task"] is not None, model_type
        if not entry["tasks"]:
            assert entry["default_task"] is None and not entry["servable"], model_type


def test_default_task_rule(registry, models, declared):
    families, tasks = registry["families"], registry["tasks"]
    for model_type, entry in models.items():
        fam_task = families[entry["family"]]["default_task"]
        own = entry["tasks"]
        also_from = declared[entry["family"]].get("default_task_also_from", [])
        if fam_task in own or (fam_task and set(own) & set(also_from)):
            expected = fam_task
        else:
            expected = min(own, key=lambda t: tasks[t]["order"]) if own else None
        assert entry["default_task"] == expected, model_type


# --------------------------------------------------------------------- spot checks
@pytest.mark.parametrize("model_type,family,task", [
    ("bert", "text-encoder", "feature-extraction"),
    ("gpt2", "text-decoder", "text-generation"),
    ("t5", "text-encoder-decoder", "text2text-generation"),
    ("vit", "vision", "image-classification"),
    ("whisper", "speech-seq2seq", "automatic-speech-recognition"),
    ("clip", "vision-text-dual-encoder", "zero-shot-image-classification"),
])
def test_supported_families(registry, models, model_type, family, task):
    entry = models[model_type]
    assert entry["family"] == family
    assert entry["servable"] is True
    assert entry["default_task"] == task
    assert registry["families"][family]["default_task"] == task
    assert task in entry["tasks"]


def test_six_family_defaults(registry):
    families = registry["families"]
    assert families["text-encoder"]["generation"] == {"max_new_tokens": 8}  # its causal LM heads
    assert families["text-decoder"]["generation"] == {"max_new_tokens": 8}
    assert families["text-encoder"]["tolerance"] == {"rtol": 1e-4, "atol": 1e-5}
    assert families["text-encoder"]["processors"] == ["AutoTokenizer"]
    assert families["component"]["default_task"] is None
    assert families["component"]["handler_tasks"] == []
    assert families["text-encoder"]["handler_tasks"] == [
        "feature-extraction", "text-encoding", "text-classification", "token-classification",
        "question-answering", "multiple-choice", "fill-mask", "pretraining", "next-sentence-prediction",
        "text-generation"]
    assert families["vision-text-dual-encoder"]["handler_tasks"] == [
        "zero-shot-image-classification", "image-embedding", "text-embedding", "feature-extraction",
        "image-classification"]


def test_tasks_table(registry):
    tasks = registry["tasks"]
    expect = {
        "feature-extraction": ("MODEL_MAPPING_NAMES", "AutoModel"),
        "text-generation": ("MODEL_FOR_CAUSAL_LM_MAPPING_NAMES", "AutoModelForCausalLM"),
        "fill-mask": ("MODEL_FOR_MASKED_LM_MAPPING_NAMES", "AutoModelForMaskedLM"),
        "text2text-generation": ("MODEL_FOR_SEQ_TO_SEQ_CAUSAL_LM_MAPPING_NAMES",
                                 "AutoModelForSeq2SeqLM"),
        "automatic-speech-recognition": ("MODEL_FOR_SPEECH_SEQ_2_SEQ_MAPPING_NAMES",
                                         "AutoModelForSpeechSeq2Seq"),
        "ctc": ("MODEL_FOR_CTC_MAPPING_NAMES", "AutoModelForCTC"),
        "image-classification": ("MODEL_FOR_IMAGE_CLASSIFICATION_MAPPING_NAMES",
                                 "AutoModelForImageClassification"),
        "zero-shot-image-classification": (
            "MODEL_FOR_ZERO_SHOT_IMAGE_CLASSIFICATION_MAPPING_NAMES",
            "AutoModelForZeroShotImageClassification"),
    }
    for task, (mapping, auto_class) in expect.items():
        assert tasks[task]["mapping"] == mapping
        assert tasks[task]["auto_class"] == auto_class


def test_bert_entry(models):
    bert = models["bert"]
    assert bert["config_class"] == "BertConfig"
    assert bert["tasks"]["feature-extraction"] == "BertModel"
    assert bert["tasks"]["fill-mask"] == "BertForMaskedLM"
    assert bert["tasks"]["text-generation"] == "BertLMHeadModel"
    assert bert["processors"]["tokenizer"] == ["BertTokenizer"]
    assert bert["modalities"] == ["text"]
    assert bert["sub_config_of"] == []


def test_processor_shapes(models):
    # dict {backend: name} -> names by backend, pil first
    assert models["vit"]["processors"]["image_processor"] == [
        "ViTImageProcessorPil", "ViTImageProcessor"]
    whisper = models["whisper"]["processors"]
    assert whisper["feature_extractor"] == ["WhisperFeatureExtractor"]
    assert whisper["processor"] == ["WhisperProcessor"]
    # declared even where the optional backend (sentencepiece / torchvision) is missing
    assert models["siglip"]["processors"]["tokenizer"] == ["SiglipTokenizer"]
    assert models["videomae"]["processors"]["video_processor"] == ["VideoMAEVideoProcessor"]


def test_modalities(models):
    assert models["clip"]["modalities"] == ["text", "image"]
    assert models["vit"]["modalities"] == ["image"]
    assert models["whisper"]["modalities"] == ["text", "audio"]  # WhisperForCausalLM too
    assert models["wav2vec2"]["modalities"] == ["audio"]    # its CTC tokenizer only decodes
    assert "video" in models["videomae"]["modalities"]


@pytest.mark.parametrize("model_type,parent", [
    ("clip_text_model", "clip"), ("clip_vision_model", "clip"),
    ("siglip_vision_model", "siglip"),
])
def test_bare_sub_configs_not_servable(models, model_type, parent):
    entry = models[model_type]
    assert entry["servable"] is False
    assert parent in entry["sub_config_of"]
    assert entry["servable_reason"].startswith("sub-config of")


@pytest.mark.parametrize("model_type", ["gemma3_text", "timm_wrapper", "llama4_text"])
def test_sub_configs_with_own_head_servable(models, model_type):
    entry = models[model_type]
    assert entry["sub_config_of"]
    assert entry["servable"] is True


@pytest.mark.parametrize("model_type", [
    "encoder-decoder", "vision-encoder-decoder", "speech-encoder-decoder"])
def test_composites_not_servable(models, model_type):
    entry = models[model_type]
    assert entry["servable"] is False
    assert entry["servable_reason"] == "composite: needs a checkpoint naming its sub-configs"


def test_more_families(models):
    assert models["wav2vec2"]["family"] == "audio-ctc"
    assert models["llava"]["family"] == "image-text-to-text"
    assert models["detr"]["family"] == "vision-detection"
    assert models["beit"]["family"] == "vision"           # image-classification before detection
    assert models["roberta"]["family"] == "text-encoder"  # also in the causal-LM table
    assert models["bart"]["family"] == "text-encoder-decoder"
    assert models["llama"]["family"] == "text-decoder"
    assert models["gemma3_text"]["family"] == "text-decoder"


def test_a_causal_lm_beside_an_audio_codec_or_without_a_vision_tower_is_a_text_decoder(models):
    """moshi's causal LM reads token ids; its only processor is its audio codec's feature
    extractor, which audio-encoder's feature claim would take. mistral4's config holds no
    sub-config (no vision tower, no image processor), though transformers maps its
    causal LM under image-text-to-text: the plan serves that as its pretraining head's
    generation, the same class. A vision-language type of no processor keeps its family."""
    assert models["moshi"]["family"] == "text-decoder"
    assert models["moshi"]["default_task"] == "text-generation"
    assert models["moshi"]["tasks"]["feature-extraction"] == "MoshiModel"  # a text model's too
    assert models["mistral4"]["family"] == "text-decoder"
    assert models["mistral4"]["tasks"]["pretraining"] == models["mistral4"]["tasks"]["image-text-to-text"]
    for model_type in ("fast_vlm", "glm_ocr", "qwen2_5_omni_thinker"):
        assert models[model_type]["family"] == "image-text-to-text", model_type
