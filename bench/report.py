"""The benchmark's one table: rows, their Markdown rendering, and the JSON + Markdown result files."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Sequence

from msmonai.fileio import write_json, write_text

COLUMNS = ("#", "measurement", "figure", "compared with", "ratio", "target", "met", "runs")


@dataclasses.dataclass
class Row:
    """One line of the table.

    Attributes:
        number: the issue's measurement number ("1", "3 ResNet3D", "F1"...).
        measurement: what is measured, in a few words.
        figure: our figure, with its unit.
        baseline: what it is compared with, measured side by side in the same run ("" when nothing).
        ratio: the comparison as a number, named by ``ratio_label`` (None when nothing is compared).
        ratio_label: how ``ratio`` is formed, e.g. "preset / floor".
        target: the issue's target for this row ("" when the row has none).
        met: whether the target is met (None when the row has no target).
        runs: how many runs the medians are taken over.
        notes: what exactly the row measures (conditions, what is in and out of the timing).
        values: the raw numbers, for bench.json.
    """

    number: str
    measurement: str
    figure: str
    baseline: str = ""
    ratio: float | None = None
    ratio_label: str = ""
    target: str = ""
    met: bool | None = None
    runs: str = ""
    notes: str = ""
    values: dict = dataclasses.field(default_factory=dict)

    def cells(self) -> list[str]:
        ratio = "" if self.ratio is None else f"{self.ratio:.2f} ({self.ratio_label})"
        met = {True: "yes", False: "**NO**", None: "-"}[self.met]
        return [self.number, self.measurement, self.figure, self.baseline, ratio, self.target, met, self.runs]


def markdown_table(rows: Sequence[Row]) -> str:
    """The rows as one GitHub Markdown table (pipes in cells escaped)."""
    lines = ["| " + " | ".join(COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
    for row in rows:
        lines.append("| " + " | ".join(cell.replace("|", "\\|") for cell in row.cells()) + " |")
    return "\n".join(lines)


def write_results(rows: Sequence[Row], context: dict, out_dir: Path) -> tuple[Path, Path]:
    """Write ``bench.json`` (context + every row with its raw values) and ``bench.md`` (context, table, row notes)."""
    json_path = write_json(out_dir / "bench.json", {"context": context, "rows": [dataclasses.asdict(r) for r in rows]})
    header = [f"# msmonai benchmark ({context['finished']})", ""]
    header += [f"- {key}: {value}" for key, value in context.items() if key != "finished"]
    notes = [f"- **{row.number}** {row.measurement}: {row.notes}" for row in rows if row.notes]
    text = "\n".join(header + ["", markdown_table(rows), "", "What each row measures:", "", *notes, ""])
    return json_path, write_text(out_dir / "bench.md", text)
