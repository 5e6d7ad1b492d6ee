"""The report's lines on Grad-CAM: localisation per layer against chance, and the randomisation check."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from medcam_core.formatting import doc_number


def gradcam_lines(metrics: dict[str, Any], escape: Callable[[object], str] = str) -> list[str]:
    """One Markdown bullet per Grad-CAM layer, and one for the sanity check when it was computed."""
    gradcam = metrics.get("gradcam", {})
    truth = escape(gradcam.get("ground_truth", "masks"))
    lines = [
        f"- **Grad-CAM `{layer}`** (n = {figures.get('n', '?')} positives with {truth}): pointing game "
        f"{doc_number(figures.get('pointing_game'), 2)} (chance {doc_number(figures.get('mask_area_share'), 3)}), "
        f"within 1/16 of the side {doc_number(figures.get('pointing_game_tolerant'), 2)} "
        f"(chance {doc_number(figures.get('tolerant_area_share'), 3)}), energy inside the mask "
        f"{doc_number(figures.get('energy_in_mask'), 2)}"
        for layer, figures in gradcam.get("layers", {}).items()
    ]
    rho = gradcam.get("randomised_weights_rank_correlation")
    if rho is not None:
        lines.append(
            f"- **Sanity check**: rank correlation of the raw maps with a weight-randomised model's {rho:.2f} "
            "(near 0: the maps depend on what was learned; near ±1: on the architecture alone)"
        )
    return lines
