"""`medcam-tui data check`: the datasets of a queue, or one folder as downloaded, as a table or JSON.

Everything shown comes from the dataset (file and class names, CSV cells) and goes through
`printable`: a file named with escape sequences must not repaint the terminal, nor an undecodable
name crash the print. The JSON stays exact; `json.dumps` escapes what a terminal would act on.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from medcam_core.config import DatasetSpec, parse_config
from medcam_core.data.check import EXIT, DatasetCheck, check_dataset
from medcam_core.data.preview import DEFAULT_SIZE, refuse_inside, write_preview
from medcam_core.data.recipe_catalog import RECIPES
from medcam_core.data.recipes.table import table_problem
from medcam_core.errors import ConfigError, DataError
from medcam_core.safe_text import printable
from medcam_tui.commands import error, resolve_config
from medcam_tui.exit_codes import EXIT_CONFIG

SHOWN = 5
FLAGS = {
    "positive": "--positive",
    "negative": "--negative",
    "table": "--table",
    "body_parts": "--body-parts",
    "uncertain": "--uncertain",
    "views": "--views",
    "name": "--name",  # evaluate's name for the dataset
}


def folder_spec(
    path: Path, recipe: str, options: dict[str, Any], command: str = "data check", name: str | None = None
) -> DatasetSpec:
    """One dataset from the command line, validated by the same rules as a config file; errors name
    `command` and the flag."""
    info = RECIPES[recipe]
    given = {k: v for k, v in options.items() if v is not None}
    for key in given:
        if key in FLAGS and key not in info.options:
            raise ConfigError(command, FLAGS[key], f"not used by --recipe {recipe}")
    for key in info.required:
        if key not in given and key not in info.defaults:
            raise ConfigError(command, FLAGS[key], f"needed by --recipe {recipe} ({info.summary})")
    problem = table_problem(path, given["table"]) if "table" in given else None
    if problem:
        raise ConfigError(command, FLAGS["table"], problem)
    name = name or re.sub(r"[^A-Za-z0-9_-]", "-", path.resolve().name).strip("-_")[:64] or "dataset"
    table = {"name": name, "path": str(path), "recipe": recipe, **given}
    try:
        return parse_config({"datasets": [table]}, file=command).datasets[0]
    except ConfigError as exc:  # name the flag, not the config key it became
        key = exc.key.removeprefix("datasets[0].")
        raise (ConfigError(command, FLAGS[key], exc.expected) if key in FLAGS else exc) from None


def data_check_command(
    path: Path | None,
    recipe: str | None,
    options: dict[str, Any],
    config_path: Path | None,
    as_json: bool,
    preview: Path | None = None,
    preview_size: int | None = None,
) -> int:
    """The check of each dataset; with `preview`, its preview too. The exit status is the check's."""
    try:
        if path is not None:
            specs, seed = [folder_spec(path, recipe or "folder", options)], 42
        else:
            config = resolve_config(config_path, None)
            specs, seed = list(config.datasets), config.presets[config.order[0]].seed
        if preview is not None:
            preview_folder(preview, specs)
    except (ConfigError, DataError) as exc:
        error(printable(exc))
        return EXIT_CONFIG
    console = Console(file=sys.stderr if as_json else sys.stdout)
    checks, previews = [], []
    for spec in specs:
        with console.status(escape(printable(f"checking {spec.name} ({spec.recipe}: {spec.path})…"))):
            checks.append(check_dataset(spec, seed))
        if preview is not None:
            with console.status(escape(printable(f"writing the preview of {spec.name}…"))):
                previews.append(make_preview(spec, preview_size or DEFAULT_SIZE, seed, preview))
        if not as_json:
            render(console, checks[-1], previews[-1] if previews else None)
    if as_json:
        entries = [c.to_json() for c in checks]
        if preview is not None:
            for entry, made in zip(entries, previews, strict=True):
                entry["preview"] = made
        print(json.dumps({"datasets": entries}, indent=2, ensure_ascii=True))
    return max(EXIT[c.status] for c in checks)


def preview_folder(folder: Path, specs: list[DatasetSpec]) -> None:
    """--preview DIR: a folder that can be made, outside every dataset (its PNGs would become data)."""
    if folder.exists() and not folder.is_dir():
        raise ConfigError("data check", "--preview", f"expected a folder, {folder} is a file")
    for spec in specs:
        refuse_inside(folder, spec)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigError("data check", "--preview", f"cannot create {folder}: {exc.strerror or exc}") from None


def make_preview(spec: DatasetSpec, size: int, seed: int, folder: Path) -> dict[str, Any]:
    """The `preview` entry of the dataset's JSON: where the sheet is and how many images, or why none."""
    try:
        made = write_preview(spec, size, seed, folder)
    except DataError as exc:
        return {"error": str(exc)}
    except OSError as exc:  # a full disk, a folder that went away: this dataset has no preview, the check stands
        return {"error": f"cannot write the preview: {exc.strerror or exc}"}
    return {"sheet": str(made.sheet), "folder": str(made.folder), "images": made.written, "size": made.size}


def render_preview(console: Console, made: dict[str, Any], errors: list[str]) -> None:
    """Where the contact sheet is, or why there is none (said once when the check said it already)."""
    if "error" in made:
        why = "the dataset could not be read" if made["error"] in errors else shown(made["error"])
        console.print(f"  [yellow]preview not written:[/] {why}")
        return
    console.print(f"  preview: {made['images']} image(s) at {made['size']} px, contact sheet {shown(made['sheet'])}")
    console.print(f"    each image under {shown(made['folder'])}")


def shown(value: object) -> str:
    """Dataset-provided text as Rich markup that prints literally: escapes spelled out, brackets escaped."""
    return escape(printable(value))


def render(console: Console, check: DatasetCheck, preview: dict[str, Any] | None = None) -> None:
    colour = {"ok": "green", "warning": "yellow", "error": "red"}[check.status]
    table = Table(title=f"{shown(check.name)} — {check.recipe}: {shown(check.path)}", title_justify="left")
    for column in ("split", "positive", "negative", "patients"):
        table.add_column(column, justify="left" if column == "split" else "right")
    for split, counts in check.splits.items():
        table.add_row(split, *(str(counts[k]) for k in ("positive", "negative", "patients")))
    if check.splits:
        console.print(table)
    else:
        console.print(f"[bold]{shown(check.name)}[/] — {check.recipe}: {shown(check.path)}")
    for note in check.notes:
        console.print(f"  note: {shown(note)}")
    if check.skipped:
        reasons = ", ".join(f"{n} {r}" for r, n in check.skipped_reasons().items())
        console.print(f"  [yellow]skipped {len(check.skipped)} file(s)[/]: {shown(reasons)}")
        for item in check.skipped[:SHOWN]:
            console.print(f"    {shown(item['path'])}: {shown(item['reason'])}")
        if len(check.skipped) > SHOWN:
            console.print(f"    … and {len(check.skipped) - SHOWN} more (--json lists them all)")
    if check.duplicates:
        console.print(
            f"  [yellow]duplicate files: {check.duplicates}[/] (identical content; within a split one copy is kept)"
        )
    if check.leaks:
        verb, style = ("dropped from train/val", "yellow") if check.leaks_dropped else ("refused by training", "red")
        console.print(f"  [{style}]leaks across splits: {len(check.leaks)}[/] ({verb})")
        for leak in check.leaks[:SHOWN]:
            console.print(f"    {shown(leak)}")
    for message in check.errors:
        console.print(f"  [red]error:[/] {shown(message)}")
    if preview is not None:
        render_preview(console, preview, check.errors)
    console.print(f"  [{colour}]{check.status}[/]\n")
