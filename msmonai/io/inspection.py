"""Present a :class:`ScanResult` to the operator: the JSON object of ``msmonai inspect --json`` or a text table.

Both show PatientID: ``inspect`` prints the operator's own archive to their terminal and writes no file.
"""

from __future__ import annotations

from msmonai.io.model import ScanResult


def inspection_json(result: ScanResult) -> dict:
    """``{"studies": [...], "problems": [...]}`` with the keys documented in docs/ingestion.md."""
    return {
        "studies": [
            {
                "patient_id": study.patient_id,
                "study_uid": study.study_uid,
                "study_date": study.study_date.isoformat() if study.study_date else None,
                "t1_series_uid": study.t1.series_uid if study.t1 else None,
                "series": [
                    {
                        "series_uid": s.series_uid,
                        "description": s.description,
                        "weighting": s.weighting,
                        "n_slices": s.n_slices,
                        "orientation": s.orientation,
                        "selected": s.selected,
                    }
                    for s in study.series
                ],
            }
            for study in result.studies
        ],
        "problems": [{"path": p.path, "reason": p.reason} for p in result.problems],
    }


def inspection_table(result: ScanResult) -> str:
    """Human-readable listing: one block per study (``*`` marks the chosen T1), then the problems."""
    lines = []
    for study in result.studies:
        date = study.study_date.isoformat() if study.study_date else "no date"
        lines.append(f"patient {study.patient_id}  study {date}  {study.study_uid}")
        for s in study.series:
            contrast = "+contrast" if s.contrast else ""
            lines.append(
                f"  {'*' if s.selected else ' '} {s.weighting:<9} {s.orientation:<8} {s.n_slices:>4} slices"
                f" {contrast:<9} {s.description!r}  {s.series_uid}"
            )
    usable = sum(study.t1 is not None for study in result.studies)
    lines.append(f"{len(result.studies)} studies, {usable} with a T1 series (*), {len(result.problems)} problems")
    lines.extend(f"  {p.path}: {p.reason}" for p in result.problems)
    return "\n".join(lines)
