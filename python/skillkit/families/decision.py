"""Decision models: decision_transformer (offline reinforcement learning) serving
feature-extraction, its predictions over a trajectory.

The handler's contract (data/families.json's "decision" entry): a trajectory, or a list,
each a dict of "states" (steps x state_dim), "actions" (steps x act_dim),
"returns_to_go" (one per step) and "timesteps" (one integer per step), in; per
trajectory the model's `action_preds`, `state_preds` and `return_preds` at every step
out. The reference runs transformers' DecisionTransformerModel on each trajectory alone,
as its documentation's example does (a batch of one, every step attended), so a
skillset that batches trajectories must show that padding changes nothing.

jev's decision head (JevForDecision: questions about a state, answered through a chat
template and single-token labels) has no tiny-model recipe here: it fails as a tiny model
that could not be built.
"""
import numpy as np
import torch
import transformers
from transformers.models.auto.configuration_auto import CONFIG_MAPPING

from .. import tiny
from ..compare import outputs_allclose
from ..expected import Expected
from . import Case

# The widths of DecisionTransformerModelTester (transformers' tests) are 17 and 6; a
# few suffice to tell states and actions apart.
STATE_DIM = 5
ACT_DIM = 3
MAX_EPISODE = 64  # timesteps embedded: a trajectory's steps count from 0 below it
# Wider weights than the config's 0.02, so that predictions differ from step to step
# by far more than the tolerance.
INITIALIZER_RANGE = 0.2
OUTPUTS = ("action_preds", "state_preds", "return_preds")


def build_tiny(model_type, candidate, out_dir, seed):
    if model_type != "decision_transformer":
        raise NotImplementedError(f"no tiny-model recipe for {model_type!r}: only decision_transformer's")
    tiny.seed_everything(seed)
    config = CONFIG_MAPPING[model_type]()
    tiny.shrink(config, state_dim=STATE_DIM, act_dim=ACT_DIM, max_ep_len=MAX_EPISODE,
                initializer_range=INITIALIZER_RANGE)
    model = getattr(transformers, candidate["model_class"])(config).eval()
    # The config is all the processor there is: it fixes the widths.
    tiny.save_and_verify(model, config, out_dir)


def _trajectory(steps, seed, start=0):
    rng = np.random.default_rng(seed)
    return {
        "states": rng.normal(size=(steps, STATE_DIM)).round(3).tolist(),
        "actions": rng.uniform(-1, 1, size=(steps, ACT_DIM)).round(3).tolist(),
        "returns_to_go": np.linspace(10, 1, steps).round(3).tolist(),
        "timesteps": list(range(start, start + steps)),
    }


def cases(plan):
    seed = plan.get("seed", 0)
    return [
        Case("one trajectory of four steps", _trajectory(4, seed)),
        Case("two trajectories of different lengths, one from a later step",
             [_trajectory(3, seed + 1), _trajectory(6, seed + 2, start=10)]),
    ]


def reference(model_dir, candidate, case, plan):
    model = getattr(transformers, candidate["model_class"]).from_pretrained(model_dir).eval()
    expected = Expected({key: [] for key in OUTPUTS})
    for trajectory in case.input if isinstance(case.input, list) else [case.input]:  # each alone
        steps = len(trajectory["timesteps"])
        with torch.inference_mode():
            output = model(
                states=torch.tensor([trajectory["states"]], dtype=torch.float32),
                actions=torch.tensor([trajectory["actions"]], dtype=torch.float32),
                returns_to_go=torch.tensor(trajectory["returns_to_go"], dtype=torch.float32).reshape(1, steps, 1),
                timesteps=torch.tensor([trajectory["timesteps"]], dtype=torch.long),
                attention_mask=torch.ones(1, steps, dtype=torch.long))
        for key in OUTPUTS:
            expected[key].append(getattr(output, key)[0].tolist())
    return expected


def compare(expected, actual, plan):
    """Each prediction allclose within the plan's tolerance, trajectory by trajectory
    (they differ in length)."""
    return outputs_allclose(expected, actual, plan, per_entry=tuple(expected))
