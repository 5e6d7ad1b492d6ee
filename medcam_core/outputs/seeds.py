"""The report's line on repeated seeds: how far the seeds of one job spread, next to its interval."""

from __future__ import annotations

from typing import Any

from medcam_core.formatting import number
from medcam_core.safe_text import printable


def seed_spread(metrics: dict[str, Any]) -> list[str]:
    """One Markdown bullet when the job trained several seeds (`repeats`), else none."""
    repeats = metrics.get("repeats")
    spread = (repeats or {}).get("spread", {}).get("auroc") or {}
    if spread.get("mean") is None:
        return []
    return [
        f"- **Seeds**: test AUROC {number(spread['mean'])} ± {number(spread.get('sd'))} (mean ± SD over "
        f"{len(repeats['seeds'])} seeds {', '.join(map(str, repeats['seeds']))}); saved seed "
        f"{repeats['saved_seed']}: {printable(repeats['saved_because'])}"
    ]
