"""One finder per recipe name: each turns a folder as downloaded into labelled, grouped samples."""

from __future__ import annotations

from collections.abc import Callable

from medcam_core.config import DatasetSpec
from medcam_core.data.discovery import Discovered
from medcam_core.data.recipes.folders import find_folder, find_kermany, find_knee_kl
from medcam_core.data.recipes.mura import find_mura
from medcam_core.data.recipes.nih import find_nih
from medcam_core.data.recipes.table import find_table

FINDERS: dict[str, Callable[[DatasetSpec], Discovered]] = {
    "folder": find_folder,
    "csv": find_table,
    "kermany": find_kermany,
    "nih-cardiomegaly": find_nih,
    "mura": find_mura,
    "knee-kl": find_knee_kl,
    "osteoporosis": find_folder,
}
