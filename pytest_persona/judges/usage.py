"""Judge token usage and cost, counted apart from the model under test."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

# USD per 1M tokens (input, output). Public list prices; extend as needed.
PRICES_PER_MTOK: dict[str, tuple[float, float]] = {
    "gpt-4.1": (2.00, 8.00),
    "gpt-4.1-mini": (0.40, 1.60),
    "gpt-4.1-nano": (0.10, 0.40),
    "gpt-4o": (2.50, 10.00),
    "gpt-4o-mini": (0.15, 0.60),
    "claude-haiku-4-5": (1.00, 5.00),
    "claude-3-5-haiku-latest": (0.80, 4.00),
    "claude-sonnet-4-5": (3.00, 15.00),
    "claude-sonnet-4-0": (3.00, 15.00),
}


def price_for(model: str) -> tuple[float, float] | None:
    """Price of ``model``; dated snapshots ("gpt-4.1-mini-2025-04-14") match their base name."""
    if model in PRICES_PER_MTOK:
        return PRICES_PER_MTOK[model]
    best = None
    for name, price in PRICES_PER_MTOK.items():
        if model.startswith(name + "-") and (best is None or len(name) > len(best[0])):
            best = (name, price)
    return best[1] if best else None


def cost_usd(model: str, input_tokens: int, output_tokens: int,
             reported_model: str | None = None) -> float | None:
    """Cost in USD at the reported model version's price, else the requested model's."""
    price = (price_for(reported_model) if reported_model else None) or price_for(model)
    if price is None:
        return None
    return (input_tokens * price[0] + output_tokens * price[1]) / 1e6


@dataclass
class JudgeUsage:
    calls: int = 0
    cache_hits: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    cost_usd: float | None = None
    missing: int = 0
    #: model names the provider reported, with how many answers each gave
    models: dict[str, int] = field(default_factory=dict)

    def to_dict(self) -> dict[str, int | float | None | dict[str, int]]:
        return asdict(self)

    def add_cost(self, cost: float | None) -> None:
        if cost is None:
            return
        self.cost_usd = (self.cost_usd or 0.0) + cost

    def __str__(self) -> str:
        cost = "n/a" if self.cost_usd is None else f"${self.cost_usd:.4f}"
        return (
            f"{self.calls} calls, {self.cache_hits} cached, {self.input_tokens} input / "
            f"{self.output_tokens} output tokens, cost {cost}, {self.missing} missing"
            + (f", answered by {', '.join(sorted(self.models))}" if self.models else "")
        )
