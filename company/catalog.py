"""The data catalog of a dataset: which schema fields hold data, which extra columns were kept from
imports (attributes: dimensions and measures), their zh/en labels, and a few values of each.

Imported attributes are recorded in the store's meta table by the importer; this module reads them
and lets a user rename them or change their kind. Questions and tool filters find attributes here.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Literal

from company.schema import TABLES
from company.store import Store, get_meta, set_meta


@dataclass(frozen=True)
class AttributeInfo:
    table: str
    column: str
    header: str
    kind: Literal["dimension", "measure"]
    zh: str
    en: str

    def label(self, language: str = "zh") -> str:
        return self.zh if language == "zh" else self.en

    def names(self) -> set[str]:
        """Every name a user may call it by: labels and the original header."""
        return {n for n in (self.zh, self.en, self.header) if n}

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def attributes(store: Store) -> list[AttributeInfo]:
    if not store.exists():
        return []
    out = []
    for item in store.meta("attributes", []) or []:
        out.append(
            AttributeInfo(
                item["table"],
                item["column"],
                item.get("header", item["column"]),
                item.get("kind", "dimension"),
                item.get("zh") or item.get("header", item["column"]),
                item.get("en") or item.get("header", item["column"]),
            )
        )
    return out


def find_attribute(store: Store, name: str, table: str | None = None) -> AttributeInfo | None:
    """An attribute by column, label or original header (case-insensitive)."""
    wanted = name.strip().lower()
    for a in attributes(store):
        if table and a.table != table:
            continue
        if wanted in {n.lower() for n in a.names()} | {a.column.lower(), f"{a.table}.{a.column}".lower()}:
            return a
    return None


def relabel(
    store: Store,
    target: str,
    *,
    zh: str | None = None,
    en: str | None = None,
    kind: Literal["dimension", "measure"] | None = None,
) -> AttributeInfo:
    """Rename an attribute (zh/en label) or switch it between dimension and measure."""
    table, _, column = target.partition(".")
    found = next((a for a in attributes(store) if a.table == table and a.column == column), None)
    if found is None:
        found = find_attribute(store, target)
    if found is None:
        listing = "、".join(f"{a.table}.{a.column}（{a.zh}）" for a in attributes(store)) or "（没有）"
        raise ValueError(f"没有找到列「{target}」。可修改的列：{listing}。")
    for label in (zh, en):
        if label is not None and not label.strip():
            raise ValueError("名称不能为空。")

    def change(con) -> None:
        items = get_meta(con, "attributes", []) or []
        for item in items:
            if item["table"] == found.table and item["column"] == found.column:
                if zh:
                    item["zh"] = zh.strip()
                if en:
                    item["en"] = en.strip()
                if kind and kind != item.get("kind"):
                    sql_type = "DOUBLE" if kind == "measure" else "VARCHAR"
                    con.execute(
                        f'ALTER TABLE "{found.table}" ALTER COLUMN "{found.column}" SET DATA TYPE {sql_type} '
                        f'USING TRY_CAST("{found.column}" AS {sql_type})'
                    )
                    item["kind"] = kind
        set_meta(con, "attributes", items)

    store.write(change)
    return next(a for a in attributes(store) if a.table == found.table and a.column == found.column)


def describe(store: Store, values_per_dimension: int = 8) -> dict[str, Any]:
    """Tables with their filled fields and row counts, attributes with sample values: the catalog."""
    if not store.exists():
        return {"tables": [], "attributes": []}
    tables = []
    with store.connect() as con:
        for table in TABLES.values():
            rows = con.execute(f'SELECT count(*) FROM "{table.name}"').fetchone()[0]
            filled = []
            if rows:
                counts = con.execute(
                    "SELECT " + ", ".join(f'count("{c.name}")' for c in table.columns) + f' FROM "{table.name}"'
                ).fetchone()
                filled = [c.name for c, n in zip(table.columns, counts, strict=True) if n]
            tables.append({"table": table.name, "zh": table.zh, "rows": int(rows), "fields": filled})
        attrs = []
        for a in attributes(store):
            entry = a.to_dict()
            if a.kind == "dimension":
                top = con.execute(
                    f'SELECT "{a.column}", count(*) AS n FROM "{a.table}" WHERE "{a.column}" IS NOT NULL '
                    f"GROUP BY 1 ORDER BY n DESC LIMIT {int(values_per_dimension)}"
                ).fetchall()
                entry["values"] = [v for v, _n in top]
                entry["distinct"] = con.execute(f'SELECT count(DISTINCT "{a.column}") FROM "{a.table}"').fetchone()[0]
            else:
                lo, hi, total = con.execute(
                    f'SELECT min("{a.column}"), max("{a.column}"), sum("{a.column}") FROM "{a.table}"'
                ).fetchone()
                entry.update({"min": lo, "max": hi, "sum": total})
            attrs.append(entry)
    return {"tables": tables, "attributes": attrs}
