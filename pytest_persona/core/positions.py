"""Where steering acts: the positions type and its defaults, and the default layer; torch-free.

``all`` steers every token; ``prompt`` only the prompt's tokens; ``response`` the last prompt
token and every generated one (what the reference's evaluation steers). The steerer's
default is ``all``, as the reference's ``ActivationSteerer`` class has it; everything that
evaluates (suites, fixtures, engines, layer sweeps) defaults to ``response``.
"""

from __future__ import annotations

from typing import Literal

Positions = Literal["all", "prompt", "response"]
POSITIONS: tuple[Positions, ...] = ("all", "prompt", "response")
#: ActivationSteerer's default (the reference class's)
STEERER_DEFAULT: Positions = "all"
#: the default of suites, fixtures and engines (the reference's evaluation)
EVALUATION_DEFAULT: Positions = "response"


def check_positions(value: object) -> Positions:
    """``value`` as a :data:`Positions`, or a ValueError naming the allowed values."""
    if value not in POSITIONS:
        raise ValueError(f"unknown positions {value!r}: use one of {', '.join(POSITIONS)}")
    return value


#: the default steering layer: block 19, where the persona-vectors paper steers Qwen2.5-7B
#: (28 blocks); suites set their own per model, and ``persona extract`` without a layer sweep
#: falls back to 2/3 of the depth (:func:`default_layer`)
REFERENCE_LAYER = 19


def default_layer(n_layers: int) -> int:
    """2/3 of the depth (block 18 of Qwen2.5-7B's 28, close to the paper's 19): the layer used
    where no suite or sweep says otherwise and the model's depth is known."""
    return n_layers * 2 // 3
