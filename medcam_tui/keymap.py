"""`[ui.keys]` in medcam.toml: rebind keys by binding id (Textual's keymap), and say which ids are unknown
rather than ignore a typo silently."""

from __future__ import annotations

from collections.abc import Iterable

from textual.app import App
from textual.binding import Binding

from medcam_tui.screens.browser import ModelBrowser
from medcam_tui.screens.compare import CompareScreen
from medcam_tui.screens.data import DataScreen
from medcam_tui.screens.gradcam import GradCAMScreen
from medcam_tui.screens.help import HelpScreen
from medcam_tui.screens.log_viewer import LogViewer
from medcam_tui.screens.modals import AddJob, ConfirmQuit, TracebackScreen
from medcam_tui.screens.report import ReportScreen
from medcam_tui.widgets.queue_table import QueueTable
from medcam_tui.widgets.table_tools import FilterPrompt

SCREENS = (  # and the widgets with bindings of their own
    ModelBrowser,
    CompareScreen,
    DataScreen,
    GradCAMScreen,
    HelpScreen,
    LogViewer,
    AddJob,
    ConfirmQuit,
    TracebackScreen,
    ReportScreen,
    FilterPrompt,
    QueueTable,
)


def binding_ids(app: App) -> set[str]:
    """Every binding id of the app and its screens: what `[ui.keys]` may name."""
    bindings: Iterable[Binding | tuple] = [*app.BINDINGS, *(b for screen in SCREENS for b in screen.BINDINGS)]
    return {b.id for b in bindings if isinstance(b, Binding) and b.id}


def apply_keymap(app: App, keys: tuple[tuple[str, str], ...]) -> list[str]:
    """Apply `[ui.keys]`; returns the ids no binding has (applied anyway: harmless, but worth a warning)."""
    if not keys:
        return []
    app.set_keymap(dict(keys))
    known = binding_ids(app)
    return sorted(k for k, _ in keys if k not in known)
