"""Build one report page for any run directory: every figure, table and run record in it.

Works on the outputs of any fewlabel command (train/extract/evaluate/classify/voxel) without
knowing which made them: PNG figures, small CSV/Markdown tables and ``*.json`` run records
(their command lines become the "Reproduce" commands). Sub-folders become sections.
"""

from __future__ import annotations

import json
import os
import shlex
from pathlib import Path

import pandas as pd

from fewlabel.errors import InputError
from fewlabel.report.html import Section, write_report

MAX_TABLE_ROWS = 30


def _command_from_record(path: Path) -> str | None:
    """The command line saved in a fewlabel run record (``argv``), if ``path`` is one."""
    try:
        record = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    argv = record.get("argv") if isinstance(record, dict) else None
    if not argv:
        return None
    program = Path(argv[0]).name
    if program in ("__main__.py", "-c") or program.startswith("python"):
        program = "fewlabel"
    return shlex.join([program, *map(str, argv[1:])])


def _small_table(path: Path) -> pd.DataFrame | None:
    """Read a CSV/TSV of at most MAX_TABLE_ROWS rows (bigger ones are data, not summaries)."""
    try:
        df = pd.read_csv(path, sep="\t" if path.suffix == ".tsv" else ",")
    except (OSError, ValueError, pd.errors.ParserError):
        return None
    return df if 0 < len(df) <= MAX_TABLE_ROWS else None


def collect_sections(run_dir: Path) -> list[Section]:
    """One section per folder (the run directory itself first) holding anything to show."""
    sections = []
    folders = [run_dir] + sorted(p for p in run_dir.rglob("*") if p.is_dir() and not p.name.startswith("."))
    for folder in folders:
        files = sorted(p for p in folder.iterdir() if p.is_file() and not p.name.startswith("."))
        figures = [(p, p.stem.replace("_", " ")) for p in files if p.suffix.lower() == ".png"]
        tables = [(t, p.name) for p in files if p.suffix in (".csv", ".tsv")
                  if (t := _small_table(p)) is not None]
        markdown = "\n\n".join(p.read_text() for p in files if p.suffix == ".md")
        commands = [c for p in files if p.suffix == ".json" if (c := _command_from_record(p))]
        if figures or tables or markdown or commands:
            title = run_dir.resolve().name if folder == run_dir else str(folder.relative_to(run_dir))
            sections.append(Section(title=title, markdown=markdown, figures=figures, tables=tables,
                                    commands=sorted(set(commands))))
    return sections


def build_run_report(run_dir: str | os.PathLike, output: str | os.PathLike | None = None) -> Path:
    """Write ``RUN_DIR/report.html`` (or ``output``) showing everything found in ``run_dir``."""
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise InputError(run_dir, "run directory not found")
    sections = collect_sections(run_dir)
    if not sections:
        raise InputError(run_dir, "no figures, tables or run records found to report")
    output = Path(output) if output else run_dir / "report.html"
    return write_report(output, f"fewlabel report: {run_dir.resolve().name}", sections,
                        meta=f"Built from {run_dir.resolve()}")
