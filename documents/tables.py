"""How a document table's cells are shown, the same in Markdown and Word: thousands separators, two decimals,
units in the header, numbers right-aligned."""

from __future__ import annotations

from typing import Any

import pandas as pd

from documents.model import Table

MISSING = "—"


def header(table: Table) -> list[str]:
    """Column names with their unit appended as 列名（单位） unless the name already carries one."""
    out = []
    for column in table.frame.columns:
        name, unit = str(column), table.units.get(str(column))
        out.append(f"{name}（{unit}）" if unit and not name.endswith((f"({unit})", f"（{unit}）")) else name)
    return out


def numeric_columns(frame: pd.DataFrame) -> list[bool]:
    return [pd.api.types.is_numeric_dtype(frame[c]) and not pd.api.types.is_bool_dtype(frame[c]) for c in frame.columns]


def _decimals(series: pd.Series) -> int:
    """Whole-number columns (counts, 件) show no decimals; any fractional value gives the column two."""
    values = series.dropna()
    if pd.api.types.is_integer_dtype(series) or (len(values) and (values == values.round()).all()):
        return 0
    return 2


def format_cell(value: Any, decimals: int) -> str:
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return MISSING
    if isinstance(value, bool):
        return "是" if value else "否"
    if isinstance(value, int | float):
        return f"{value:,.{decimals}f}"
    return str(value)


def rows(table: Table) -> list[list[str]]:
    """Every cell as display text; text columns keep their text, numeric columns get separators."""
    frame = table.frame
    flags = numeric_columns(frame)
    decimals = [_decimals(frame[c]) if flag else 0 for c, flag in zip(frame.columns, flags, strict=True)]
    out = []
    for row in frame.itertuples(index=False, name=None):
        cells = []
        for value, flag, digits in zip(row, flags, decimals, strict=True):
            if flag:
                cells.append(format_cell(value, digits))
            else:
                cells.append("" if value is None or (not isinstance(value, str) and pd.isna(value)) else str(value))
        out.append(cells)
    return out


def parse_number(text: str) -> float | None:
    """The inverse of format_cell for numbers: '32,102,672.31' -> 32102672.31; '—' -> None."""
    text = text.strip().replace(",", "")
    if text in ("", MISSING):
        return None
    return float(text)
