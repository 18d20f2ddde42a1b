"""The tiny-model cache: each tiny model is built once and shared by every later run."""
import hashlib
import inspect
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

import transformers

from . import teaching, tiny, tokenizers

# The shared modules that build tiny models; with the family module and the skillkit
# modules those use (builder_modules), their code is part of the cache key, so that
# changing a builder rebuilds.
BUILDERS = (tiny, tokenizers, teaching)

# A build of an older key (builder code since changed) that no run has read for this
# long is deleted when its model class is built again; each run that reads a build
# marks it used, so workers of two checkouts sharing one cache keep each other's.
STALE_S = 24 * 3600


def cache_root():
    """Where tiny models are kept: $SKILLKIT_CACHE; else, run from a checkout (its
    python/pyproject.toml beside this package), the checkout's .cache/tiny; else, as
    `make install` puts it under a prefix that may not be the user's to write,
    $XDG_CACHE_HOME/hf-skillsets/tiny (~/.cache/...), beside the converted graphs."""
    configured = os.environ.get("SKILLKIT_CACHE")
    if configured:
        return Path(configured)
    python_dir = Path(__file__).resolve().parents[1]
    if (python_dir / "pyproject.toml").exists():
        return python_dir.parent / ".cache" / "tiny"
    home = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(home) / "hf-skillsets" / "tiny"


def builder_modules(family):
    """The family module and every skillkit module it builds with, transitively: a
    family that calls another's recipe (speech-seq2seq builds audio language models
    with audio-text-to-text's) rebuilds when that one changes."""
    found, pending = {}, [family, *BUILDERS]
    while pending:
        module = pending.pop()
        if module.__name__ in found:
            continue
        found[module.__name__] = module
        for value in vars(module).values():
            if inspect.ismodule(value) and hasattr(module, "__path__"):
                continue  # a package holds every submodule loaded so far, not only those it uses
            owner = value if inspect.ismodule(value) else sys.modules.get(getattr(value, "__module__", None) or "")
            if owner is not None and owner.__name__.startswith("skillkit.") and getattr(owner, "__file__", None):
                pending.append(owner)
    return [found[name] for name in sorted(found)]


def _builder_digest(family):
    digest = hashlib.sha256()
    for module in builder_modules(family):
        digest.update(Path(module.__file__).read_bytes())
    return digest.hexdigest()


def tiny_model_dir(family, plan, candidate):
    """The tiny model for this candidate, built once and shared by every later run.

    The key holds everything that changes the built files, the builder code included.
    It is built in a temporary directory beside its final place and renamed into it,
    so a concurrent worker or an interrupted build never leaves a half-written model
    where a reader would take it.
    """
    seed = plan.get("seed", 0)
    digest = hashlib.sha256(json.dumps(
        [plan["model_type"], candidate, seed, transformers.__version__, _builder_digest(family)],
        sort_keys=True).encode()).hexdigest()[:12]
    final = cache_root() / plan["ident"] / f"{candidate['model_class']}-{digest}"
    if final.is_dir():
        os.utime(final)
        return final
    final.parent.mkdir(parents=True, exist_ok=True)
    _evict_stale(final)
    building = Path(tempfile.mkdtemp(prefix=f".{final.name}.", dir=final.parent))
    try:
        tiny.seed_everything(seed)
        family.build_tiny(plan["model_type"], candidate, str(building), seed)
        _point_to(building, final)
        try:
            building.rename(final)
        except OSError:
            if not final.is_dir():  # not merely another worker finishing first
                raise
    finally:
        shutil.rmtree(building, ignore_errors=True)
    return final


def _point_to(building, final):
    """Rewrites the build's paths in its JSON files to the final directory: a saved
    processor names its codec by the path it was loaded from (its `audio_tokenizer`,
    saved inside the model's directory), which the rename would leave dangling. The
    final path with its links resolved: checkouts share the cache through one."""
    for path in building.glob("*.json"):
        text = path.read_text(encoding="utf-8")
        if str(building) in text:
            path.write_text(text.replace(str(building), os.path.realpath(final)), encoding="utf-8")


def _evict_stale(final):
    """Deletes the builds of the same model class under other keys that no run has read
    for STALE_S: without it every change to a builder leaves a full set of old builds
    behind (49 GB after a day of recipe changes)."""
    now = time.time()
    for old in final.parent.glob(final.name.rsplit("-", 1)[0] + "-*"):
        try:
            stale = now - old.stat().st_mtime > STALE_S
        except FileNotFoundError:  # another worker deleted it first
            continue
        if old != final and stale:
            shutil.rmtree(old, ignore_errors=True)
