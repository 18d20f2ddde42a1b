"""Tiny generators taught to end one input early and go on with another.

Random weights never choose end-of-sequence within a few tokens, and then neither
min_new_tokens nor what a batch does after one of its rows has ended can be seen. So a
generating family's tiny model is taught, by a few steps of training (fit), to answer
its first input with ENDS_AFTER tokens and end, and its second with GOES_ON tokens: one
case lets the first end (a batch must stop that row there while the other goes on), the
others forbid it with min_new_tokens (the skillset must pass that option on).
"""
import torch

from .families import Case

ENDS_AFTER = 3  # tokens of its answer the first input is taught, before it ends
GOES_ON = 8  # tokens of its answer the second input is taught, without ending


def fit(model, batch, target_loss=0.01, max_steps=500, rates=(3e-2, 3e-3)):
    """Train the model on one batch (with labels) until its loss is below target_loss.

    Dropout stays off (eval mode) and one thread sums in a fixed order, so the weights
    depend on the seed alone, not on the machine's core count; a loss that low leaves
    every taught token far ahead of the runner-up. Adam's learning rates are tried in
    turn, each from the initial weights and with twice the steps of the one before: a
    high rate is quick, but some architectures (post-norm bart) stall on it.
    """
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    initial = {name: tensor.detach().clone() for name, tensor in model.state_dict().items()}
    stalls = []
    try:
        for attempt, rate in enumerate(rates):
            if attempt:
                model.load_state_dict(initial)
            optimizer = torch.optim.Adam(model.parameters(), lr=rate)
            for _ in range(max_steps << attempt):
                loss = model(**batch).loss
                if loss.item() < target_loss:
                    break
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
            else:
                stalls.append(f"{loss.item():.3g} (learning rate {rate:g})")
                continue
            break
        else:
            raise RuntimeError(f"training the tiny model stalled at loss {', '.join(stalls)}")
    finally:
        torch.set_num_threads(threads)
    model.zero_grad(set_to_none=True)


def generation_cases(plan, inputs, noun):
    """The cases of a family whose model was taught to answer `inputs` as above."""
    n = plan["generation"]["max_new_tokens"]
    if n <= ENDS_AFTER + 1:
        raise ValueError(f"max_new_tokens must exceed {ENDS_AFTER + 1} for the cases to tell ending from not")
    # With min_new_tokens == max_new_tokens the first input must not end where it
    # would: a skillset that drops the option returns it short.
    exactly_n = {"max_new_tokens": n, "min_new_tokens": n}
    return [
        Case(f"one {noun}", inputs[0], exactly_n),
        Case(f"two {noun}s of different lengths", list(inputs), exactly_n),
        # The first input ends after ENDS_AFTER tokens, the second goes on to n.
        Case(f"two {noun}s, the first ending early", list(inputs), {"max_new_tokens": n}),
    ]
