"""What a cost budget pays for: comparisons that forgive float rounding.

Costs are sums of ``Task.cost`` values such as 0.1 + 0.2, which is 0.30000000000000004 in floating
point: compared exactly, a budget of 0.3 would not pay for a 0.3 measurement. Every comparison of a
budget with a cost here allows a relative :data:`COST_RTOL`.
"""

from __future__ import annotations

import math

#: Relative tolerance of budget-versus-cost comparisons (float rounding of summed costs).
COST_RTOL = 1e-9


def pays_for(left: float, cost: float) -> bool:
    """Whether ``left`` of a budget pays for something costing ``cost`` (``cost >= 0``)."""
    return cost * (1.0 - COST_RTOL) <= left


def how_many(left: float, cost: float) -> int:
    """How many things costing ``cost`` (> 0) ``left`` pays for (0 if ``left`` is negative)."""
    return max(0, math.floor(left / cost * (1.0 + COST_RTOL)))
