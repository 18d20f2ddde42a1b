"""Time-series forecasting and classification (patchtst, patchtsmixer, timesfm, timesfm2_5,
informer, autoformer, time_series_transformer).

The handler's contract is data/families.json's "time-series" entry: a series (a list of
floats, or of per-step lists for several channels) or a list of series in; per series
the forecast (`forecasts`) or the class `logits` and ranked `predictions`. Three kinds
of model, told apart by what their config holds:
- patch models (patchtst, patchtsmixer): a window of exactly `context_length` steps of
  `num_input_channels` channels; one forward gives the point forecast or the logits;
- timesfm (1 and 2.5): univariate series of any length (it pads and truncates itself);
  one forward gives `mean_predictions` over `horizon_length` steps;
- probabilistic seq2seq models (informer, autoformer, time_series_transformer):
  `context_length + max(lags_sequence)` steps, time features, a distribution head;
  `generate()` draws `num_parallel_samples` sample paths. The forecast is their mean,
  drawn under a fixed torch seed (the handler's `seed`, default 0) for each series alone,
  so that the same model gives the same forecast on every call and in every batch.

There is no pipeline for these tasks in transformers; the reference calls the model
classes the way their documentation does, on each series alone.
"""
import functools

import numpy as np
import torch
import transformers
from transformers.models.auto.configuration_auto import CONFIG_MAPPING

from .. import tiny
from ..compare import Comparison, allclose, scores_and_predictions, short
from ..expected import Expected
from . import Case

# Class labels of the tiny classifiers: three, so that series differ in their best one.
LABELS = ("falling", "flat", "rising")

# Tiny configs, learnt from the sizes transformers' own model tests keep consistent
# (tests/models/<type>/test_modeling_<type>.py); two channels where the model takes
# several, so that a handler mixing up steps and channels fails.
_PATCH = dict(context_length=16, patch_length=4, patch_stride=4, prediction_length=5,
              num_input_channels=2, num_targets=len(LABELS), d_model=16)
_SAMPLING = dict(prediction_length=5, context_length=10, input_size=1, lags_sequence=[1, 2, 3],
                 num_time_features=1, d_model=16, encoder_layers=1, decoder_layers=1,
                 encoder_attention_heads=2, decoder_attention_heads=2, encoder_ffn_dim=16,
                 decoder_ffn_dim=16, num_parallel_samples=8)
TINY = {
    "patchtst": dict(_PATCH, num_hidden_layers=2, num_attention_heads=2, ffn_dim=32),
    "patchtsmixer": dict(_PATCH, num_layers=2),
    "timesfm": dict(patch_length=8, context_length=32, horizon_length=8, freq_size=3,
                    num_hidden_layers=1, hidden_size=16, intermediate_size=32, head_dim=8,
                    num_attention_heads=2),
    "timesfm2_5": dict(patch_length=32, context_length=128, horizon_length=8, num_hidden_layers=1,
                       hidden_size=32, intermediate_size=64, head_dim=16, num_attention_heads=2,
                       num_key_value_heads=2, output_quantile_len=16, quantiles=[0.1, 0.5, 0.9]),
    "informer": dict(_SAMPLING, distil=False, sampling_factor=10),
    "autoformer": dict(_SAMPLING, label_length=5, moving_average=25, autocorrelation_factor=1),
    "time_series_transformer": dict(_SAMPLING),
}


def kind(config):
    """"sampling", "timesfm" or "patch": how the model takes a series (the module's doc)."""
    if hasattr(config, "lags_sequence"):
        return "sampling"
    if hasattr(config, "horizon_length"):
        return "timesfm"
    return "patch"


def channels(config):
    if kind(config) == "sampling":
        return config.input_size
    return getattr(config, "num_input_channels", 1)


def history(config):
    """How many past steps the model reads; None: any number (timesfm)."""
    if kind(config) == "sampling":
        return config.context_length + max(config.lags_sequence)
    if kind(config) == "patch":
        return config.context_length
    return None


def build_tiny(model_type, candidate, out_dir, seed):
    tiny.seed_everything(seed)
    if model_type not in TINY:
        raise ValueError(f"no tiny time-series config is written for '{model_type}'")
    config = CONFIG_MAPPING[model_type](
        **TINY[model_type],
        id2label=dict(enumerate(LABELS)), label2id={label: i for i, label in enumerate(LABELS)})
    model = getattr(transformers, candidate["model_class"])(config).eval()
    # The config is these models' preprocessor: it fixes the window, channels and lags.
    tiny.save_and_verify(model, model.config, out_dir)


def _config(plan):
    """The config the cases are sized for: the tiny one build_tiny writes."""
    return CONFIG_MAPPING[plan["model_type"]](**TINY.get(plan["model_type"], {}))


def _series(rng, steps, width):
    """A seeded noisy sine of `steps` steps: a float list for one channel, else per-step
    lists of `width` channels (each its own phase)."""
    t = np.arange(steps, dtype=np.float64)
    phases = rng.uniform(0, 2 * np.pi, size=width)
    values = np.sin(t[:, None] / 3.0 + phases) * 2 + 5 + rng.normal(0, 0.3, size=(steps, width))
    values = values.round(4)
    return values[:, 0].tolist() if width == 1 else values.tolist()


def cases(plan):
    config = _config(plan)
    rng = np.random.default_rng(plan.get("seed", 0))
    width, needed = channels(config), history(config) or 24
    one = _series(rng, needed, width)
    # Of different lengths, both longer than the model reads: a handler that batches
    # them by padding, or that keeps the oldest steps instead of the latest, fails.
    short_one, long_one = _series(rng, needed + 3, width), _series(rng, 2 * needed + 7, width)
    out = [
        Case("one series", one),
        Case("two series of different lengths", [short_one, long_one]),
    ]
    if plan["task"] == "time-series-classification":
        out.append(Case("one series, top_k 2", one, {"top_k": 2}))
    elif kind(config) == "sampling":
        out.append(Case("one series, seed 7", long_one, {"seed": 7}))
    elif kind(config) == "timesfm" and plan["model_type"] == "timesfm":
        out.append(Case("one series, low frequency", long_one, {"freq": 2}))
    return out


@functools.lru_cache(maxsize=1)  # one model at a time: the worker lives long
def _model(model_dir, model_class):
    return getattr(transformers, model_class).from_pretrained(model_dir).eval()


def _depth(value):
    """How deeply lists nest: 1 for a float list, 2 for per-step channel lists, ..."""
    depth = 0
    while isinstance(value, (list, tuple, np.ndarray)) and len(value):
        value, depth = value[0], depth + 1
    return depth


def _one_or_many(value, width):
    """The case's input as a list of series, each a float32 array of steps x channels:
    a series nests once (one channel) or twice (several), a list of them once more."""
    single = 1 if width == 1 else 2
    items = [value] if _depth(value) == single else value
    return [np.asarray(item, dtype=np.float32).reshape(len(item), width) for item in items]


def _forecast(model, series, options):
    """One series' forecast, steps x channels, as the model's documentation makes it."""
    config = model.config
    if kind(config) == "patch":
        window = torch.tensor(series[-config.context_length:])[None]
        return model(past_values=window).prediction_outputs[0]
    if kind(config) == "timesfm":
        values = [torch.tensor(series[:, 0])]
        # timesfm 1 takes a frequency index per series (0: high, the default); 2.5 none.
        extra = {"freq": [options.get("freq", 0)]} if config.model_type == "timesfm" else {}
        return model(past_values=values, **extra).mean_predictions[0][:, None]
    steps = config.context_length + max(config.lags_sequence)
    past = torch.tensor(series[-steps:])
    if config.input_size == 1:
        past = past[:, 0]
    # The age feature (log10(2 + position)), past and future, in every time-feature column:
    # what the contract gives a model when no calendar features come with the values.
    age = torch.log10(2.0 + torch.arange(steps + config.prediction_length, dtype=torch.float32))
    features = age[:, None].repeat(1, config.num_time_features)
    inputs = dict(past_values=past[None], past_time_features=features[None, :steps],
                  future_time_features=features[None, steps:],
                  past_observed_mask=torch.ones_like(past[None]))
    if config.num_static_categorical_features:
        inputs["static_categorical_features"] = torch.zeros(1, config.num_static_categorical_features,
                                                            dtype=torch.long)
    if config.num_static_real_features:
        inputs["static_real_features"] = torch.zeros(1, config.num_static_real_features)
    torch.manual_seed(options.get("seed", 0))
    sequences = model.generate(**inputs).sequences  # (1, samples, prediction_length[, channels])
    mean = sequences[0].mean(dim=0)
    return mean if mean.dim() == 2 else mean[:, None]


def reference(model_dir, candidate, case, plan):
    model = _model(model_dir, candidate["model_class"])
    width = channels(model.config)
    items = _one_or_many(case.input, width)
    if plan["task"] == "time-series-classification":
        expected = Expected({"logits": [], "predictions": []})
        labels = model.config.id2label
        top_k = case.options.get("top_k")
        for series in items:  # each alone
            window = torch.tensor(series[-model.config.context_length:])[None]
            with torch.inference_mode():
                out = model(past_values=window)
            logits = (out.prediction_logits if hasattr(out, "prediction_logits") else out.prediction_outputs)[0]
            scores = logits.softmax(-1).tolist()
            ranked = sorted(range(len(scores)), key=lambda i: -scores[i])[:top_k]
            expected["logits"].append(logits.tolist())
            expected["predictions"].append([{"label": labels[i], "score": scores[i]} for i in ranked])
        return expected
    expected = Expected({"forecasts": []})
    with torch.random.fork_rng(devices=[]):  # leave the worker's own random state alone
        for series in items:  # each alone
            with torch.inference_mode():
                forecast = _forecast(model, series, case.options)
            expected["forecasts"].append(forecast[:, 0].tolist() if width == 1 else forecast.tolist())
    return expected


def compare(expected, actual, plan):
    """Forecasts (or logits) allclose within the plan's tolerance, series by series;
    predictions as compare.ranked_predictions."""
    rtol, atol = plan["tolerance"]["rtol"], plan["tolerance"]["atol"]
    if plan["task"] == "time-series-classification":
        if "logits" not in actual or "predictions" not in actual:
            return Comparison(False, None, f"outputs 'logits' and 'predictions' expected, got {sorted(actual)}")
        return scores_and_predictions(expected, actual, "logits", rtol, atol)
    if "forecasts" not in actual:
        return Comparison(False, None, f"output 'forecasts' expected, got {sorted(actual)}")
    want, got = expected["forecasts"], actual["forecasts"]
    if not isinstance(got, list) or len(got) != len(want):
        return Comparison(False, None, f"forecasts: {len(want)} series expected, got {short(got)}")
    return allclose(want, got, rtol, atol)
