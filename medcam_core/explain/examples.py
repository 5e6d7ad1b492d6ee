"""Grad-CAM put to use, under the one name callers import it by.

The parts live in their own modules: `maps` (what to explain and its maps), `render` (PNG exports at
each image's original resolution), `localisation` (pointing game, energy in mask, randomisation check;
the lesion-mask lookup is passed in) and `picking` (which examples a job shows).
"""

from __future__ import annotations

from medcam_core.explain.localisation import MaskLookup, localisation, randomisation_check
from medcam_core.explain.maps import CHUNK, PLAN_LAYER, Explained, Item, explain, model_inputs
from medcam_core.explain.picking import pick_examples
from medcam_core.explain.render import DEFAULT_ALPHA, DEFAULT_CMAP, colorize, export, load_original, overlay

__all__ = [
    "CHUNK",
    "DEFAULT_ALPHA",
    "DEFAULT_CMAP",
    "PLAN_LAYER",
    "Explained",
    "Item",
    "MaskLookup",
    "colorize",
    "explain",
    "export",
    "load_original",
    "localisation",
    "model_inputs",
    "overlay",
    "pick_examples",
    "randomisation_check",
]
