#!/usr/bin/env python3
"""Write data/registry.json (to stdout) from the installed transformers.

    .venv/bin/python scripts/build_registry.py > data/registry.json     (make registry)

Introspects transformers' auto tables; instantiates nothing, touches no network.
Sub-config relations and the processor class names that transformers blanks out when
an optional backend (sentencepiece, torchvision) is missing are read from transformers'
own source with `ast`, so the output does not depend on those optional packages and
does not need the ~800 configuration modules imported (seconds instead of ~10 s).
tests/python/test_registry.py checks those source readings against the imported truth.

What makes a family (the claims that classify a type into it, its default task,
processors, tolerance, generation defaults, handler contract) is declared once, in
data/families.json. The other rules (servability, processors, modalities, default
tasks) are written down in scripts/REGISTRY.md; keep the two in step.
"""
import ast
import functools
import importlib
import json
import re
import sys
from pathlib import Path

SCHEMA_VERSION = 1

# --------------------------------------------------------------------------- tasks
# modeling_auto table -> pipeline-style task name. The ORDER of this list is the
# project's fixed task order (REGISTRY.md "Default task"): most specific first,
# bare-features tables last. Tables not named here (a newer transformers) get a
# derived name and go after these, sorted.
TASK_TABLES = [
    ("text-generation", "MODEL_FOR_CAUSAL_LM_MAPPING_NAMES"),
    ("text2text-generation", "MODEL_FOR_SEQ_TO_SEQ_CAUSAL_LM_MAPPING_NAMES"),
    ("fill-mask", "MODEL_FOR_MASKED_LM_MAPPING_NAMES"),
    ("image-text-to-text", "MODEL_FOR_IMAGE_TEXT_TO_TEXT_MAPPING_NAMES"),
    ("any-to-any", "MODEL_FOR_MULTIMODAL_LM_MAPPING_NAMES"),
    ("automatic-speech-recognition", "MODEL_FOR_SPEECH_SEQ_2_SEQ_MAPPING_NAMES"),
    ("ctc", "MODEL_FOR_CTC_MAPPING_NAMES"),
    ("rnnt", "MODEL_FOR_RNNT_MAPPING_NAMES"),
    ("tdt", "MODEL_FOR_TDT_MAPPING_NAMES"),
    ("zero-shot-image-classification", "MODEL_FOR_ZERO_SHOT_IMAGE_CLASSIFICATION_MAPPING_NAMES"),
    ("image-classification", "MODEL_FOR_IMAGE_CLASSIFICATION_MAPPING_NAMES"),
    ("object-detection", "MODEL_FOR_OBJECT_DETECTION_MAPPING_NAMES"),
    ("zero-shot-object-detection", "MODEL_FOR_ZERO_SHOT_OBJECT_DETECTION_MAPPING_NAMES"),
    ("image-segmentation", "MODEL_FOR_IMAGE_SEGMENTATION_MAPPING_NAMES"),
    ("semantic-segmentation", "MODEL_FOR_SEMANTIC_SEGMENTATION_MAPPING_NAMES"),
    ("instance-segmentation", "MODEL_FOR_INSTANCE_SEGMENTATION_MAPPING_NAMES"),
    ("universal-segmentation", "MODEL_FOR_UNIVERSAL_SEGMENTATION_MAPPING_NAMES"),
    ("depth-estimation", "MODEL_FOR_DEPTH_ESTIMATION_MAPPING_NAMES"),
    ("normal-estimation", "MODEL_FOR_NORMAL_ESTIMATION_MAPPING_NAMES"),
    ("pointmap-estimation", "MODEL_FOR_POINTMAP_ESTIMATION_MAPPING_NAMES"),
    ("pose-estimation", "MODEL_FOR_POSE_ESTIMATION_MAPPING_NAMES"),
    ("keypoint-detection", "MODEL_FOR_KEYPOINT_DETECTION_MAPPING_NAMES"),
    ("keypoint-matching", "MODEL_FOR_KEYPOINT_MATCHING_MAPPING_NAMES"),
    ("mask-generation", "MODEL_FOR_MASK_GENERATION_MAPPING_NAMES"),
    ("image-matting", "MODEL_FOR_IMAGE_MATTING_MAPPING_NAMES"),
    ("image-to-image", "MODEL_FOR_IMAGE_TO_IMAGE_MAPPING_NAMES"),
    ("video-classification", "MODEL_FOR_VIDEO_CLASSIFICATION_MAPPING_NAMES"),
    ("audio-classification", "MODEL_FOR_AUDIO_CLASSIFICATION_MAPPING_NAMES"),
    ("audio-frame-classification", "MODEL_FOR_AUDIO_FRAME_CLASSIFICATION_MAPPING_NAMES"),
    ("audio-xvector", "MODEL_FOR_AUDIO_XVECTOR_MAPPING_NAMES"),
    ("text-to-audio", "MODEL_FOR_TEXT_TO_WAVEFORM_MAPPING_NAMES"),
    ("text-to-spectrogram", "MODEL_FOR_TEXT_TO_SPECTROGRAM_MAPPING_NAMES"),
    ("visual-question-answering", "MODEL_FOR_VISUAL_QUESTION_ANSWERING_MAPPING_NAMES"),
    ("document-question-answering", "MODEL_FOR_DOCUMENT_QUESTION_ANSWERING_MAPPING_NAMES"),
    ("table-question-answering", "MODEL_FOR_TABLE_QUESTION_ANSWERING_MAPPING_NAMES"),
    ("text-recognition", "MODEL_FOR_TEXT_RECOGNITION_MAPPING_NAMES"),
    ("table-recognition", "MODEL_FOR_TABLE_RECOGNITION_MAPPING_NAMES"),
    ("time-series-forecasting", "MODEL_FOR_TIME_SERIES_PREDICTION_MAPPING_NAMES"),
    ("time-series-classification", "MODEL_FOR_TIME_SERIES_CLASSIFICATION_MAPPING_NAMES"),
    ("time-series-regression", "MODEL_FOR_TIME_SERIES_REGRESSION_MAPPING_NAMES"),
    ("text-classification", "MODEL_FOR_SEQUENCE_CLASSIFICATION_MAPPING_NAMES"),
    ("token-classification", "MODEL_FOR_TOKEN_CLASSIFICATION_MAPPING_NAMES"),
    ("question-answering", "MODEL_FOR_QUESTION_ANSWERING_MAPPING_NAMES"),
    ("multiple-choice", "MODEL_FOR_MULTIPLE_CHOICE_MAPPING_NAMES"),
    ("next-sentence-prediction", "MODEL_FOR_NEXT_SENTENCE_PREDICTION_MAPPING_NAMES"),
    ("retrieval", "MODEL_FOR_RETRIEVAL_MAPPING_NAMES"),
    ("decision", "MODEL_FOR_DECISION_MAPPING_NAMES"),
    ("causal-image-modeling", "MODEL_FOR_CAUSAL_IMAGE_MODELING_MAPPING_NAMES"),
    ("masked-image-modeling", "MODEL_FOR_MASKED_IMAGE_MODELING_MAPPING_NAMES"),
    ("audio-tokenization", "MODEL_FOR_AUDIO_TOKENIZATION_NAMES"),
    ("text-encoding", "MODEL_FOR_TEXT_ENCODING_MAPPING_NAMES"),
    ("image-feature-extraction", "MODEL_FOR_IMAGE_MAPPING_NAMES"),
    ("feature-extraction", "MODEL_MAPPING_NAMES"),
    ("backbone", "MODEL_FOR_BACKBONE_MAPPING_NAMES"),
    ("pretraining", "MODEL_FOR_PRETRAINING_MAPPING_NAMES"),
]

# Tables no Auto class reads, but that have a loader anyway (transformers' own
# image-feature-extraction pipeline loads with AutoModel).
AUTO_CLASS_FALLBACK = {"MODEL_FOR_IMAGE_MAPPING_NAMES": "AutoModel"}
# Tables whose Auto class cannot load a saved model offline: their classes are loaded by
# name (lib/common/plan.cpp). AutoBackbone.from_pretrained asks the Hub whether the name
# is a repository, and takes it for a timm model's name otherwise; a local directory
# fails the Hub's check of a repository id before anything loads.
NO_AUTO_CLASS = {"MODEL_FOR_BACKBONE_MAPPING_NAMES"}

# Input modalities each task implies; None = decided by the type's processors.
TEXT, IMAGE, AUDIO, VIDEO, TIME_SERIES = "text", "image", "audio", "video", "time-series"
MODALITY_ORDER = [TEXT, IMAGE, AUDIO, VIDEO, TIME_SERIES]
TASK_MODALITIES = {
    "text-generation": [TEXT], "text2text-generation": [TEXT], "fill-mask": [TEXT],
    "text-classification": [TEXT], "token-classification": [TEXT],
    "question-answering": [TEXT], "multiple-choice": [TEXT],
    "next-sentence-prediction": [TEXT], "text-encoding": [TEXT],
    "table-question-answering": [TEXT], "text-to-audio": [TEXT],
    "text-to-spectrogram": [TEXT], "decision": [TEXT],
    "image-text-to-text": [TEXT, IMAGE], "zero-shot-image-classification": [TEXT, IMAGE],
    "zero-shot-object-detection": [TEXT, IMAGE], "visual-question-answering": [TEXT, IMAGE],
    "document-question-answering": [TEXT, IMAGE], "retrieval": [TEXT, IMAGE],
    "image-classification": [IMAGE], "object-detection": [IMAGE],
    "image-segmentation": [IMAGE], "semantic-segmentation": [IMAGE],
    "instance-segmentation": [IMAGE], "universal-segmentation": [IMAGE],
    "depth-estimation": [IMAGE], "normal-estimation": [IMAGE],
    "pointmap-estimation": [IMAGE], "pose-estimation": [IMAGE],
    "keypoint-detection": [IMAGE], "keypoint-matching": [IMAGE],
    "mask-generation": [IMAGE], "image-matting": [IMAGE], "image-to-image": [IMAGE],
    "text-recognition": [IMAGE], "table-recognition": [IMAGE],
    "causal-image-modeling": [IMAGE], "masked-image-modeling": [IMAGE],
    "image-feature-extraction": [IMAGE],
    "automatic-speech-recognition": [AUDIO], "ctc": [AUDIO], "rnnt": [AUDIO], "tdt": [AUDIO],
    "audio-classification": [AUDIO], "audio-frame-classification": [AUDIO],
    "audio-xvector": [AUDIO], "audio-tokenization": [AUDIO],
    "video-classification": [VIDEO],
    "time-series-forecasting": [TIME_SERIES], "time-series-classification": [TIME_SERIES],
    "time-series-regression": [TIME_SERIES],
    "any-to-any": [TEXT],          # plus whatever its processors take
    "feature-extraction": [], "backbone": [], "pretraining": [],   # processors decide
}
PROCESSOR_MODALITY = {"tokenizer": TEXT, "image_processor": IMAGE,
                      "feature_extractor": AUDIO, "video_processor": VIDEO}

# ------------------------------------------------------------------------ families
# Everything that is a fact about a family lives in data/families.json; see load_families.
FAMILIES_FILE = Path(__file__).resolve().parent.parent / "data" / "families.json"
FAMILY_FIELDS = ("description", "claims", "default_task", "processors", "tolerance",
                 "generation", "handler")
CLAIM_CONDITIONS = {"rank", "tasks_any", "tasks_none", "processors_all", "processors_none",
                    "no_text_task", "main_input_any", "no_sub_configs", "processor_takes_all"}
# What a model class takes first when it declares nothing (PreTrainedModel.main_input_name).
DEFAULT_MAIN_INPUT = "input_ids"

# Tables that only give bare features / sub-modules; a sub-config type needs a class
# in some OTHER table to be servable on its own (REGISTRY.md "Servable").
BARE_TASKS = {"feature-extraction", "image-feature-extraction", "text-encoding", "backbone",
              "pretraining"}
# Generic wrappers whose whole architecture comes from the checkpoint's sub-configs.
COMPOSITES = {"encoder-decoder", "vision-encoder-decoder", "speech-encoder-decoder",
              "vision-text-dual-encoder"}

# (kind, table, auto module that finishes the table). Only the tokenizer table is
# imported: code extends it at import time, and importing it is cheap. The other four
# are plain literals (auto_mappings.py + the MISSING_* literal in their module), read
# from the source: importing image_processing_auto alone costs ~2 s of CPU.
PROCESSOR_TABLES = [
    ("tokenizer", "TOKENIZER_MAPPING_NAMES", "tokenization_auto"),
    ("image_processor", "IMAGE_PROCESSOR_MAPPING_NAMES", "image_processing_auto"),
    ("feature_extractor", "FEATURE_EXTRACTOR_MAPPING_NAMES", "feature_extraction_auto"),
    ("processor", "PROCESSOR_MAPPING_NAMES", "processing_auto"),
    ("video_processor", "VIDEO_PROCESSOR_MAPPING_NAMES", "video_processing_auto"),
]
IMPORTED_PROCESSOR_TABLES = {"TOKENIZER_MAPPING_NAMES"}
AUTO_SOURCES = ["auto_mappings", "tokenization_auto", "image_processing_auto",
                "feature_extraction_auto", "processing_auto", "video_processing_auto"]


class RegistryError(Exception):
    pass


def first_name(value):
    """A task-table value: a class name, or a tuple/list of them (the first wins)."""
    if isinstance(value, (tuple, list)):
        value = value[0] if value else None
    return value if isinstance(value, str) else None


# ------------------------------------------------------------- source literals (ast)
def literal(node):
    """A mapping value as written in transformers' source. `A if cond else B` is read
    as A: the name transformers declares, whatever optional backend is installed."""
    if isinstance(node, ast.Constant) and (node.value is None or isinstance(node.value, str)):
        return node.value
    if isinstance(node, ast.IfExp):
        return literal(node.body)
    if isinstance(node, (ast.Tuple, ast.List)):
        return [literal(e) for e in node.elts]
    if isinstance(node, ast.Dict) and all(k is not None for k in node.keys):
        return {literal(k): literal(v) for k, v in zip(node.keys, node.values)}
    raise ValueError(ast.unparse(node))


def declared_tables(auto_dir):
    """{table name: {model_type: declared value}} from every `NAME = OrderedDict([...])`
    in the auto modules' sources; MISSING_<NAME> tables merge into <NAME>."""
    tables = {}
    for mod in AUTO_SOURCES:
        path = auto_dir / f"{mod}.py"
        if not path.exists():
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not (isinstance(node, ast.Assign) and len(node.targets) == 1
                    and isinstance(node.targets[0], ast.Name)
                    and isinstance(node.value, ast.Call) and node.value.args
                    and isinstance(node.value.args[0], (ast.List, ast.Tuple))):
                continue
            name = node.targets[0].id.removeprefix("MISSING_")
            table = tables.setdefault(name, {})
            for elt in node.value.args[0].elts:
                if isinstance(elt, ast.Tuple) and len(elt.elts) == 2:
                    try:
                        key, value = literal(elt.elts[0]), literal(elt.elts[1])
                    except ValueError:
                        continue
                    if isinstance(key, str):
                        table[key] = value
    return tables


def names_of(value, declared=None):
    """Class names of a processor-table value: a string, a tuple/list, or a dict
    {backend: name} (listed by backend name, sorted). A None (backend package not
    installed) is replaced by the name the source declares, where it declares one."""
    if isinstance(value, dict):
        decl = declared if isinstance(declared, dict) else {}
        raw = [value[b] if value[b] is not None else decl.get(b) for b in sorted(value)]
        raw += [decl[b] for b in sorted(decl) if b not in value]
    elif isinstance(value, (tuple, list)):
        raw = list(value)
        if all(v is None for v in raw) and declared is not None:
            return names_of(declared)
    elif value is None:
        return names_of(declared) if declared is not None else []
    else:
        raw = [value]
    out = []
    for v in raw:
        if isinstance(v, str) and v not in out:
            out.append(v)
    return out


# ------------------------------------------------------------- sub-configs (ast)
class ConfigClass:
    __slots__ = ("name", "path", "bases", "model_type", "subs_defaults", "subs_plain")

    def __init__(self, name, path, bases):
        self.name, self.path, self.bases = name, path, bases
        self.model_type = None      # a class-body `model_type = "..."`
        self.subs_defaults = None   # {key: ("class", ClassName) | ("auto", None)}
        self.subs_plain = None      # a class-body `sub_configs = {...}` (overrides)


def _expr_name(node):
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return node.attr
    return None


def _spec(node):
    """One sub_configs value: a config class, or SubConfigSpec(config_class=..., model_type=...)."""
    if isinstance(node, ast.Call) and _expr_name(node.func) == "SubConfigSpec":
        kw = {k.arg: k.value for k in node.keywords}
        cls = kw.get("config_class", node.args[0] if node.args else None)
        if cls is None:
            raise RegistryError(f"SubConfigSpec without a config class '{ast.unparse(node)}'")
        return _spec(cls)
    name = _expr_name(node)
    if name is None:
        raise RegistryError(f"unreadable sub-config value '{ast.unparse(node)}'")
    return ("auto", None) if name == "AutoConfig" else ("class", name)


def _subs_dict(node):
    if not isinstance(node, ast.Dict) or any(k is None for k in node.keys):
        raise RegistryError(f"unreadable sub_configs '{ast.unparse(node)[:80]}'")
    return {literal(k): _spec(v) for k, v in zip(node.keys, node.values)}


def scan_config_classes(models_dir):
    """Every class of every configuration_*.py: {class name: [ConfigClass, ...]}."""
    index = {}
    for path in sorted(models_dir.rglob("configuration_*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in tree.body:
            if not isinstance(node, ast.ClassDef):
                continue
            info = ConfigClass(node.name, path, [n for n in map(_expr_name, node.bases) if n])
            for stmt in node.body:
                if isinstance(stmt, ast.Assign):
                    targets, value = [_expr_name(t) for t in stmt.targets], stmt.value
                elif isinstance(stmt, ast.AnnAssign) and stmt.value is not None:
                    targets, value = [_expr_name(stmt.target)], stmt.value
                else:
                    continue
                if "model_type" in targets and isinstance(value, ast.Constant):
                    info.model_type = value.value
                elif "sub_configs_defaults" in targets:
                    info.subs_defaults = _subs_dict(value)
                elif "sub_configs" in targets:
                    info.subs_plain = _subs_dict(value)
            index.setdefault(node.name, []).append(info)
    return index


def _lookup(index, name, near):
    """The class `name` as seen from file `near`: same file, same package, else unique."""
    found = index.get(name, [])
    for test in (lambda c: c.path == near, lambda c: c.path.parent == near.parent):
        hits = [c for c in found if test(c)]
        if hits:
            return hits[0]
    return found[0] if len(found) == 1 else None


def _mro(index, cls):
    """Linearised bases, depth-first left-to-right (config classes inherit singly)."""
    out, stack = [], [cls]
    while stack:
        c = stack.pop(0)
        if c in out:
            continue
        out.append(c)
        stack[0:0] = [b for b in (_lookup(index, n, c.path) for n in c.bases) if b]
    return out


def sub_configs_of(index, cls):
    """What `cls.sub_configs` gives: a plain class-body `sub_configs` dict anywhere in
    the bases shadows PreTrainedConfig's classproperty; else the nearest
    `sub_configs_defaults`, reduced to its config classes."""
    mro = _mro(index, cls)
    for c in mro:
        if c.subs_plain is not None:
            return c.subs_plain
    for c in mro:
        if c.subs_defaults is not None:
            return c.subs_defaults
    return {}


def declared_model_type(index, cls):
    """What `cls.model_type` gives: the nearest class-body `model_type` in its bases."""
    return next((c.model_type for c in _mro(index, cls) if c.model_type is not None), None)


def find_config_class(index, class_name, module_dir):
    hits = [c for c in index.get(class_name, []) if c.path.parent == module_dir]
    if hits:
        return hits[0]
    hits = index.get(class_name, [])
    return hits[0] if hits else None


# ---------------------------------------------------------------------- the build
def load_transformers():
    import transformers
    from transformers.models.auto import configuration_auto, modeling_auto
    from transformers.models.auto.auto_factory import _BaseAutoModelClass
    return transformers, configuration_auto, modeling_auto, _BaseAutoModelClass


def task_tables(modeling_auto, base_auto):
    """[(task, table name, table, auto class name|None)] in the fixed task order."""
    by_id = {}
    for name in sorted(dir(modeling_auto)):
        if name.startswith("MODEL") and name.endswith("NAMES") and name != "CONFIG_MAPPING_NAMES":
            value = getattr(modeling_auto, name)
            if isinstance(value, dict):
                by_id.setdefault(id(value), name)
    auto_of = {}
    for name in sorted(dir(modeling_auto)):
        obj = getattr(modeling_auto, name)
        if isinstance(obj, type) and issubclass(obj, base_auto) and not name.startswith("_"):
            inner = getattr(getattr(obj, "_model_mapping", None), "_model_mapping", None)
            table = by_id.get(id(inner))
            if table and table not in auto_of:
                auto_of[table] = name
    known = {table: task for task, table in TASK_TABLES}
    present = set(by_id.values())
    out = []
    for task, table in TASK_TABLES:
        if table in present:
            out.append((task, table))
    for table in sorted(present - set(known)):
        task = table.removeprefix("MODEL_FOR_").removeprefix("MODEL_")
        task = task.removesuffix("_NAMES").removesuffix("_MAPPING").lower().replace("_", "-")
        out.append((task or "feature-extraction", table))
        print(f"build_registry: note: new task table {table} named '{task}'", file=sys.stderr)
    return [(task, table, getattr(modeling_auto, table),
             None if table in NO_AUTO_CLASS else auto_of.get(table, AUTO_CLASS_FALLBACK.get(table)))
            for task, table in out]


def processor_tables(auto_dir):
    """{kind: {model_type: [class names]}}; see PROCESSOR_TABLES."""
    declared = declared_tables(auto_dir)
    out = {}
    for kind, table, module in PROCESSOR_TABLES:
        decl = declared.get(table, {})
        if table in IMPORTED_PROCESSOR_TABLES:
            live = getattr(importlib.import_module(f"transformers.models.auto.{module}"), table)
        else:
            live = decl
        out[kind] = {key: names_of(value, decl.get(key)) for key, value in live.items()}
    return out


def _declarations(path):
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise RegistryError(f"unreadable family declarations '{path}': {exc}") from None


def load_families(path=FAMILIES_FILE):
    """data/families.json's families, each checked for the fields the script and the
    tools read, with its claims sorted by rank (first match wins)."""
    doc = _declarations(path)
    families = doc.get("families") if isinstance(doc, dict) else None
    if doc.get("schema") != "families" or not isinstance(families, dict) or not families:
        raise RegistryError(f"malformed family declarations '{path}'")
    for name, fam in families.items():
        missing = [f for f in FAMILY_FIELDS if f not in fam]
        if missing:
            raise RegistryError(f"family '{name}' lacks {', '.join(missing)} in '{path}'")
        for claim in fam["claims"]:
            unknown = set(claim) - CLAIM_CONDITIONS
            if unknown or not isinstance(claim.get("rank"), int):
                raise RegistryError(f"family '{name}' has a malformed claim {claim} in '{path}'")
    return families


PRECISION_SCHEMA = Path(__file__).resolve().parent.parent / "schemas" / "precision.schema.json"


def load_precisions(path=FAMILIES_FILE):
    """data/families.json's tolerance per precision: one for each precision of
    schemas/precision.schema.json but fp32, which is each family's own."""
    doc = _declarations(path)
    declared = {k: v for k, v in (doc.get("precisions") or {}).items() if not k.startswith("$")}
    wanted = set(json.loads(PRECISION_SCHEMA.read_text(encoding="utf-8"))["enum"]) - {"fp32"}
    if set(declared) != wanted:
        raise RegistryError(f"'precisions' must state {sorted(wanted)}, not {sorted(declared)} in '{path}'")
    for name, tolerance in declared.items():
        if not isinstance(tolerance, dict) or set(tolerance) != {"rtol", "atol"}:
            raise RegistryError(f"precision '{name}' needs exactly rtol and atol in '{path}'")
    return declared


def claims_in_order(families):
    """[(rank, family, claim)] by rank; equal ranks keep the file's order."""
    ranked = [(claim["rank"], i, name, claim) for i, (name, fam) in enumerate(families.items())
              for claim in fam["claims"]]
    return [(rank, name, claim) for rank, _, name, claim in sorted(ranked, key=lambda r: r[:2])]


def claimed(claim, tasks, procs, main_inputs=frozenset, sub_configs=False, processor_parts=frozenset):
    """Whether one claim of data/families.json holds for a type: every condition it names.
    `main_inputs()` gives the main_input_name of the type's model classes and
    `processor_parts()` the parts its processor class's constructor takes; each read (from
    the source) only when a claim asks. `sub_configs`: whether the type's config holds any
    (a vision or audio tower's, a text model's)."""
    has = {kind for kind, names in procs.items() if names}
    text_task = any(TEXT in TASK_MODALITIES.get(task, []) for task in tasks)
    return (("tasks_any" not in claim or bool(tasks & set(claim["tasks_any"])))
            and not tasks & set(claim.get("tasks_none", ()))
            and set(claim.get("processors_all", ())) <= has
            and not has & set(claim.get("processors_none", ()))
            and not (claim.get("no_text_task") and text_task)
            and ("main_input_any" not in claim or bool(main_inputs() & set(claim["main_input_any"])))
            and not (claim.get("no_sub_configs") and sub_configs)
            and set(claim.get("processor_takes_all", ())) <= (
                processor_parts() if "processor_takes_all" in claim else set()))


def classify(tasks, procs, ranked, main_inputs=frozenset, sub_configs=False, processor_parts=frozenset):
    """The family of a type from its task set, processors and (where a claim asks) its
    model classes' main inputs: the family of the first claim (by rank) that holds
    (REGISTRY.md "Families")."""
    for _, family, claim in ranked:
        if claimed(claim, set(tasks), procs, main_inputs, sub_configs, processor_parts):
            return family
    raise RegistryError(f"no family claims a type with tasks {sorted(tasks)}")


def modalities_of(tasks, procs):
    """Input modalities: those of the type's specific tasks; the processors' where it
    has only generic tasks (features, backbone, pretraining); any-to-any adds both."""
    from_procs = {m for kind, m in PROCESSOR_MODALITY.items() if procs[kind]}
    found = set()
    for task in tasks:
        found.update(TASK_MODALITIES.get(task, []))
    if "any-to-any" in tasks or not found:
        found.update(from_procs)
    return [m for m in MODALITY_ORDER if m in found]


def default_task(family, tasks, order):
    """The family's default task where the type has it, or has a task from which the
    family's skillset serves it (`default_task_also_from`); else the first in task order."""
    fam_task = family["default_task"]
    if fam_task is not None and (fam_task in tasks
                                 or set(tasks) & set(family.get("default_task_also_from", ()))):
        return fam_task
    for task in order:
        if task in tasks:
            return task
    return None


@functools.lru_cache(maxsize=None)
def _class_bodies(path):
    """{class name: ast.ClassDef} of one source file, parsed once per run."""
    return {node.name: node for node in ast.parse(path.read_text(encoding="utf-8")).body
            if isinstance(node, ast.ClassDef)}


def _class_statements(package_dirs, class_name):
    """The statements of a model class's body and then, breadth-first, of its bases of the
    same file, read from the modeling sources of `package_dirs` (the first file defining
    the class); nothing when none of them defines it."""
    for package_dir in package_dirs:
        for path in sorted(package_dir.glob("modeling_*.py")):
            if f"class {class_name}(" not in path.read_text(encoding="utf-8"):
                continue  # parse only the file that defines it
            bodies = _class_bodies(path)
            queue = [class_name]
            while queue:
                node = bodies.get(queue.pop(0))
                if node is None:
                    continue
                yield from node.body
                queue += [n for n in map(_expr_name, node.bases) if n]
            return


def model_config_class(package_dirs, class_name):
    """The config class a model class declares (`config: XConfig` or `config_class = XConfig`
    in its body or, breadth-first, in its bases of the same file), read from the modeling sources of
    `package_dirs`; None when none of them defines the class."""
    for stmt in _class_statements(package_dirs, class_name):
        if isinstance(stmt, ast.AnnAssign) and _expr_name(stmt.target) == "config":
            return _expr_name(stmt.annotation)
        if isinstance(stmt, ast.Assign) and "config_class" in map(_expr_name, stmt.targets):
            return _expr_name(stmt.value)
    return None


def _class_and_bases(package_dir, pattern, class_name):
    """The bodies of `class_name` and then of its bases, breadth first, as the first file
    of `package_dir` matching `pattern` that defines the class holds them (bases from
    other files are not followed); None when no such file defines the class. Read from
    the source text, not with `ast`: parsing a modeling file costs ~40 ms, and ~250 types
    ask."""
    for path in sorted(package_dir.glob(pattern)):
        source = path.read_text(encoding="utf-8")
        if f"class {class_name}(" not in source:
            continue
        return _bodies_in(source, class_name)
    return None


def _bodies_in(source, class_name):
    queue, seen = [class_name], set()
    while queue:
        name = queue.pop(0)
        header = re.search(rf"^class {re.escape(name)}\((.*?)\):\s*$", source, re.M | re.S)
        if name in seen or header is None:
            continue
        seen.add(name)
        tail = source[header.end():]
        following = re.search(r"^\S", tail, re.M)  # the next top-level statement
        yield tail[:following.start()] if following else tail
        queue += [base.strip().split("[")[0] for base in header.group(1).split(",")]


def main_input_name(package_dir, class_name):
    """The `main_input_name` a model class declares (its body, then its bases of the same
    file): "pixel_values", "input_features", "past_values", ...; PreTrainedModel's
    "input_ids" where it declares none; None when the type's own package does not define
    the class (a class borrowed from another type)."""
    bodies = _class_and_bases(package_dir, "modeling_*.py", class_name)
    if bodies is None:
        return None
    for body in bodies:
        declared = re.search(r"^    main_input_name\s*=\s*[\"'](\w+)[\"']", body, re.M)
        if declared:
            return declared.group(1)
    return DEFAULT_MAIN_INPUT


PROCESSOR_PARTS = {"tokenizer", "image_processor", "feature_extractor", "video_processor"}


def processor_parts(package_dir, class_name):
    """The processor kinds (`tokenizer`, `feature_extractor`, ...) a processor class's
    `__init__` takes as parameters (its body, then its bases of the same file), read from
    the type's processing sources: musicflamingo's MusicFlamingoProcessor takes a
    feature_extractor and a tokenizer though neither table lists one for the type. Empty
    where the type's package does not define the class or no __init__ is found."""
    for body in _class_and_bases(package_dir, "processing_*.py", class_name) or ():
        init = re.search(r"^    def __init__\((.*?)\)(?:\s*->\s*None)?:", body, re.M | re.S)
        if init:
            return {word for word in re.findall(r"\b(\w+)\b", init.group(1)) if word in PROCESSOR_PARTS}
    return set()


def prediction_classes(package_dir, config_class):
    """`…ForPrediction` model classes of a type's own modeling sources whose config class
    is the type's (informer's InformerForPrediction): heads transformers' time-series
    prediction table does not list. Output classes (TimesFmOutputForPrediction) declare
    no config and are left out."""
    names = []
    for path in sorted(package_dir.glob("modeling_*.py")):
        if "ForPrediction(" not in path.read_text(encoding="utf-8"):
            continue  # most packages: no parse
        for name in _class_bodies(path):
            if (name.endswith("ForPrediction")
                    and model_config_class([package_dir], name) == config_class):
                names.append(name)
    return names


def architecture_types(models, named_by_config, package_of):
    """{model class: model_type}: the type a config.json whose `architectures` names the
    class (and that has no `model_type`) is read as. A class that several types list
    (GPT2LMHeadModel: gpt-sw3 and gpt2; Llama4ForCausalLM: llama4 and llama4_text) goes,
    as in transformers, to the type of its own config class (Llama4TextConfig), and
    among types sharing that config class to the one it names (GPT2Config.model_type)."""
    listed = {}
    for model_type in sorted(models):
        for name in models[model_type]["tasks"].values():
            listed.setdefault(name, []).append(model_type)
    out = {}
    for name, types in listed.items():
        if len(types) > 1:
            config = model_config_class(dict.fromkeys(package_of[t] for t in types), name)
            types = [t for t in types if models[t]["config_class"] == config] or types
            types = [t for t in types if named_by_config[t]] or types
        out[name] = types[0]
    return out


def registry_family(fam):
    """What data/registry.json carries of a family: what the tools read."""
    task = fam["default_task"]
    return {"description": fam["description"], "reference_type": fam.get("reference_type"),
            "tolerance": fam["tolerance"],
            "default_task": task, "handler_tasks": list(fam["handler"]) or ([task] if task else []),
            "processors": fam["processors"], "generation": fam["generation"],
            **({"batch_policies": fam["batch_policies"]} if "batch_policies" in fam else {})}


def build():
    transformers, configuration_auto, modeling_auto, base_auto = load_transformers()
    root = Path(transformers.__file__).parent
    auto_dir = root / "models" / "auto"
    config_names = configuration_auto.CONFIG_MAPPING_NAMES
    tables = task_tables(modeling_auto, base_auto)
    order = [task for task, _, _, _ in tables]
    procs = processor_tables(auto_dir)
    families = load_families()
    ranked = claims_in_order(families)

    # Which registered types are concrete sub-configs of another registered type.
    # A config class shared by several types (GPT2Config: gpt-sw3, gpt2) belongs to
    # the first type whose own package defines it.
    index = scan_config_classes(root / "models")
    classes, type_of_class, package_of, named_by_config = {}, {}, {}, {}
    for model_type, cls_name in config_names.items():
        module_dir = root / "models" / configuration_auto.model_type_to_module_name(model_type)
        cls = find_config_class(index, cls_name, module_dir)
        if cls is None:
            raise RegistryError(f"config class not found in the source '{cls_name}'")
        classes[model_type] = cls
        package_of[model_type] = module_dir
        named_by_config[model_type] = declared_model_type(index, cls) == model_type
        home = cls.path.parent == module_dir
        if cls_name not in type_of_class or (home and not type_of_class[cls_name][1]):
            type_of_class[cls_name] = (model_type, home)
    parents = {}
    for model_type, cls in classes.items():
        for kind, sub in sub_configs_of(index, cls).values():
            child = type_of_class.get(sub, (None,))[0] if kind == "class" else None
            if child is not None and child != model_type:
                parents.setdefault(child, set()).add(model_type)

    models = {}
    for model_type, cls_name in config_names.items():
        tasks = {}
        for task, _, table, _ in tables:
            name = first_name(table.get(model_type))
            if name:
                tasks[task] = name
        if tasks and "time-series-forecasting" not in tasks:
            # A forecasting head the prediction table does not list (informer,
            # autoformer, time_series_transformer, patchtst, patchtsmixer).
            for name in prediction_classes(package_of[model_type], cls_name):
                tasks.setdefault("time-series-forecasting", name)
        p = {kind: list(procs[kind].get(model_type, [])) for kind, _, _ in PROCESSOR_TABLES}
        inputs = {}

        def main_inputs(model_type=model_type, tasks=tasks, inputs=inputs):
            if not inputs:
                inputs["names"] = {main_input_name(package_of[model_type], name)
                                   for name in tasks.values()} - {None}
            return inputs["names"]

        def parts(model_type=model_type, p=p):
            return set().union(*(processor_parts(package_of[model_type], name) for name in p["processor"]))

        family = classify(tasks, p, ranked, main_inputs, bool(sub_configs_of(index, classes[model_type])), parts)
        sub_of = sorted(parents.get(model_type, ()))
        heads = sorted(set(tasks) - BARE_TASKS, key=order.index)
        if not tasks:
            servable, reason = False, "no model class in any task table"
        elif model_type in COMPOSITES:
            servable, reason = False, "composite: needs a checkpoint naming its sub-configs"
        elif sub_of and not heads:
            servable = False
            reason = (f"sub-config of {', '.join(sub_of)}: only bare-feature classes "
                      f"({', '.join(sorted(tasks, key=order.index))}); serve the parent type")
        elif sub_of:
            servable = True
            reason = (f"sub-config of {', '.join(sub_of)}, but has its own head class "
                      f"({tasks[heads[0]]} for {heads[0]})")
        else:
            servable, reason = True, f"top-level config with a model class ({len(tasks)} task(s))"
        models[model_type] = {
            "config_class": cls_name,
            "family": family,
            "servable": servable,
            "servable_reason": reason,
            "sub_config_of": sub_of,
            "tasks": tasks,
            "processors": p,
            "modalities": modalities_of(tasks, p),
            "default_task": default_task(families[family], tasks, order),
        }

    return {
        "schema": "registry",
        "version": SCHEMA_VERSION,
        "transformers_version": transformers.__version__,
        "architectures": architecture_types(models, named_by_config, package_of),
        "families": {name: registry_family(fam) for name, fam in families.items()},
        "precisions": load_precisions(),
        "tasks": {task: {"mapping": table, "auto_class": auto, "order": i,
                         "modalities": TASK_MODALITIES.get(task, [])}
                  for i, (task, table, _, auto) in enumerate(tables)},
        "models": models,
    }


def dumps(registry):
    return json.dumps(registry, indent=1, sort_keys=True, ensure_ascii=True) + "\n"


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    if argv and argv[0] in ("-h", "--help"):
        print(__doc__.strip())
        return 0
    if argv:
        print(f"build_registry: error: unexpected argument '{argv[0]}'", file=sys.stderr)
        return 2
    try:
        text = dumps(build())
    except RegistryError as exc:
        print(f"build_registry: error: {exc}", file=sys.stderr)
        return 2
    sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
