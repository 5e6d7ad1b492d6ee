"""`[ui.keys]`: bindings rebound by id from medcam.toml, the help listing the ids and the keys in force,
and an id no binding has named in a warning instead of being ignored."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from medcam_core.config import UiSpec, load_config
from medcam_core.errors import ConfigError
from medcam_core.jobqueue.runner import Runner
from medcam_tui.app import MedcamApp
from medcam_tui.screens.browser import ModelBrowser
from medcam_tui.screens.help import HelpScreen

from conftest import dataset_spec, tiny_queue


def test_ui_keys_are_read_and_checked(tmp_path: Path) -> None:
    base = '[[datasets]]\nname = "a"\npath = "data"\npositive = ["yes"]\n'
    (tmp_path / "ok.toml").write_text(base + '[ui.keys]\nbrowser = "m"\npause = "space,p"\n')
    assert load_config(tmp_path / "ok.toml").ui.keys == (("browser", "m"), ("pause", "space,p"))
    (tmp_path / "bad.toml").write_text(base + "[ui.keys]\nbrowser = 3\n")
    with pytest.raises(ConfigError) as info:
        load_config(tmp_path / "bad.toml")
    assert info.value.key == "ui.keys" and "binding id" in info.value.expected


async def test_a_rebound_key_opens_its_screen_and_an_unknown_id_is_named(tmp_path: Path) -> None:
    config = tiny_queue((dataset_spec(tmp_path, "pneumonia"),), tmp_path / "out")
    config = replace(config, ui=UiSpec(keys=(("browser", "m"), ("no-such-binding", "z"))))
    app = MedcamApp(config=config, start_paused=True)
    app.runner = Runner(config, [app.sink])
    async with app.run_test(size=(140, 40)) as pilot:
        await pilot.pause()
        assert any("no-such-binding" in n.message for n in app._notifications)
        await pilot.press("b")  # the old key no longer opens the browser
        assert not isinstance(app.screen, ModelBrowser)
        await pilot.press("m")
        assert isinstance(app.screen, ModelBrowser)
        await pilot.press("escape")
        await pilot.press("question_mark")
        assert isinstance(app.screen, HelpScreen)
        assert ("m", "Models") == app.screen.rows()[[r[3] for r in app.screen.rows()].index("browser")][:2]
        await pilot.press("escape")
        await pilot.press("q")
