"""Channel conflict detection: cross-region selling (窜货), below-floor prices (乱价), quarter-end stock
build-up (压货) and sustained year-on-year decline (持续下滑), each finding with its evidence rows and next step.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date, timedelta
from typing import Any, Literal

import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, field_validator

from company.capabilities import Missing, availability
from company.periods import Period
from company.semantic import (
    Scope,
    TimeWindow,
    below_floor_sql,
    compile_per_partner,
    floor_checked_sql,
    format_value,
    line_price_sql,
)
from company.store import Store
from company.territory import OUTSIDE, places_sql, verdict_sql
from company.units import percent
from tools.base import COMMON_LABELS, Labels, ToolError, ToolResult, register, resolve_period

Kind = Literal["cross_region", "below_floor", "stock_buildup", "declining"]
Severity = Literal["低", "中", "高"]

KINDS: tuple[Kind, ...] = ("cross_region", "below_floor", "stock_buildup", "declining")
KIND_ZH: dict[str, str] = {
    "cross_region": "窜货",
    "below_floor": "乱价",
    "stock_buildup": "压货",
    "declining": "持续下滑",
}
KIND_EN: dict[str, str] = {
    "cross_region": "Cross-region selling",
    "below_floor": "Below-floor price",
    "stock_buildup": "Stock build-up",
    "declining": "Sustained decline",
}
SEVERITY_RANK = {"低": 0, "中": 1, "高": 2}
SEVERITIES: tuple[Severity, ...] = ("低", "中", "高")
SEVERITY_COLUMNS = {"高": "high", "中": "medium", "低": "low"}  # 按类型与严重度统计: one column per severity

LABELS = COMMON_LABELS | Labels(
    {
        # tables
        "findings": ("发现清单", "Findings"),
        "counts": ("按类型与严重度统计", "Findings by type and severity"),
        # findings and counts
        "kind": ("类型", "Type"),
        "partner_name": ("伙伴", "Partner"),
        "severity": ("严重度", "Severity"),
        "units": ("涉及数量(件)", "Units involved"),
        "amount": ("涉及金额(元)", "Amount involved (CNY)"),
        "summary": ("说明", "Summary"),
        "high": ("高", "High"),
        "medium": ("中", "Medium"),
        "low": ("低", "Low"),
        "total": ("合计", "Total"),
        # a finding's evidence rows (Finding.evidence)
        "order_id": ("订单号", "Order"),
        "line_no": ("行号", "Line"),
        "date": ("日期", "Date"),
        "sku": ("产品编码", "SKU"),
        "quantity": ("数量(件)", "Quantity"),
        "price": ("成交单价(元/件)", "Unit price (CNY)"),
        "floor_price": ("最低限价(元/件)", "Floor price (CNY)"),
        "below_floor": ("低于限价(%)", "Below floor (%)"),
        "sold_to_province": ("售达省份", "Sold-to province"),
        "sold_to_region": ("售达区域", "Sold-to region"),
        "sold_to_city": ("售达城市", "Sold-to city"),
        "territory": ("授权区域", "Authorised territory"),
        "month": ("月份", "Month"),
        "stock": ("月末库存(件)", "Month-end stock"),
        "stock_ratio": ("库存/中位数(倍)", "Stock to median (x)"),
        "sell_in": ("当月进货(件)", "Sell-in that month"),
        "abnormal": ("异常月", "Abnormal month"),
        "quarter": ("季度", "Quarter"),
        "revenue_year_ago": ("去年同期(元)", "A year earlier (CNY)"),
        "yoy": ("同比(%)", "Year on year (%)"),
        # headline figures
        "findings_total": ("发现总数", "Findings"),
        **{
            f"{en}_severity_findings": (f"{zh}严重度项数", f"{en.capitalize()}-severity findings")
            for zh, en in SEVERITY_COLUMNS.items()
        },
        **{f"{k}_findings": (f"{KIND_ZH[k]}项数", f"{KIND_EN[k]} findings") for k in KINDS},
        "scan_start": ("扫描开始", "Scan start"),
        "scan_end": ("扫描结束", "Scan end"),
        "decline_through": ("同比截至季度", "Year on year compared up to"),
    }
)

GUIDE_PRICE = "24-cross-region-selling-and-price-chaos.md"
GUIDE_CONFLICT = "25-vertical-horizontal-channel-conflict.md"
GUIDE_SOURCE = {
    "cross_region": GUIDE_PRICE,
    "below_floor": GUIDE_PRICE,
    "stock_buildup": GUIDE_PRICE,
    "declining": GUIDE_CONFLICT,
}

# Thresholds. Shares and depths are fractions; ratios are multiples.
CROSS_SHARE_HIGH, CROSS_SHARE_MEDIUM = 0.20, 0.05
CROSS_REPEAT_MONTHS = 3  # diverting in this many distinct months raises the severity one step
FLOOR_DEPTH_HIGH, FLOOR_DEPTH_MEDIUM = 0.10, 0.03
STOCK_RATIO_MIN, STOCK_RATIO_MEDIUM, STOCK_RATIO_HIGH = 2.0, 2.5, 3.0
SELL_IN_RATIO_MIN = 1.5
STOCK_MIN_MONTHS = 4  # fewer month-end snapshots make the median meaningless
DECLINE_HIGH, DECLINE_MEDIUM = -0.25, -0.15

LOOKBACK_MAX = 20
DECLINE_MIN, DECLINE_MAX = 2, 12

CHECK_ALIASES = {
    **{k: k for k in KINDS},
    **{v: k for k, v in KIND_ZH.items()},
    "cross-region": "cross_region",
    "territory": "cross_region",
    "跨区": "cross_region",
    "跨区销售": "cross_region",
    "below-floor": "below_floor",
    "price": "below_floor",
    "低价": "below_floor",
    "低价乱价": "below_floor",
    "stuffing": "stock_buildup",
    "stock-buildup": "stock_buildup",
    "库存激增": "stock_buildup",
    "decline": "declining",
    "下滑": "declining",
    "业绩下滑": "declining",
}
SEVERITY_ALIASES = {"低": "低", "中": "中", "高": "高", "low": "低", "medium": "中", "mid": "中", "high": "高"}


class ConflictArgs(BaseModel):
    """Scan the channel for conflict signals and return one finding per problem with evidence rows and a next step.

    Call this for questions like "有没有窜货?", "谁在低价乱价?", "季末有没有压货?", "哪些经销商业绩持续下滑?",
    "渠道冲突排查" or "conflict / cross-region selling / price violations / channel stuffing".
    Checks:
    - cross_region 窜货: sales lines shipped outside the partner's authorised territory (江苏省 = 江苏; 全国 covers
      all; a region name such as 华东 covers its provinces; a line naming only a region is judged when the territory
      covers all of it or none of it; lines without a sold-to place are not judged).
    - below_floor 乱价: lines sold below the product's floor price, per partner and SKU.
    - stock_buildup 压货: a quarter-end month whose month-end inventory is >= 2x the partner's median
      month-end inventory while that month's sell-in is >= 1.5x the median of the previous 3 months.
    - declining 持续下滑: quarterly revenue below the same quarter a year earlier for at least
      decline_quarters consecutive quarters ending at the period's last complete quarter.
    The first three checks scan the lookback_quarters x 3 months that end with the period's last month (the whole
    period if it is longer); to scan all history keep period "latest" and raise lookback_quarters (8 = two years).
    Results: data = list of findings (kind, partner, severity 高/中/低, summary, metrics, evidence, suggested
    action); tables 发现清单 (findings) and 按类型与严重度统计 (counts by type and severity).
    """

    period: str = Field(
        "latest",
        description="期间：季度 2026Q3、月份 2026-07、年份 2026，或 本季度/上季度/今年 等；扫描窗口在该期间末结束 "
        "/ period whose end closes the scan window",
    )
    checks: list[Kind] = Field(
        default_factory=lambda: list(KINDS),
        description="要做的检查，可多选：cross_region 窜货、below_floor 乱价、stock_buildup 压货、declining 持续下滑；"
        "默认全部 / which checks to run (default all)",
    )
    region: str | None = Field(None, description="只看某个大区的伙伴，如 华东；不填为全部 / partner region filter")
    min_severity: Severity = Field("低", description="只列出不低于该严重度的发现：低/中/高 / minimum severity to list")
    lookback_quarters: int = Field(
        4,
        description=f"窜货、乱价、压货检查的回看季度数 N（1-{LOOKBACK_MAX}）：扫描截至期间末的最近 N×3 个月，"
        "期间更长时扫描整个期间 / quarters scanned back from the period end",
        json_schema_extra={"minimum": 1, "maximum": LOOKBACK_MAX},
    )
    decline_quarters: int = Field(
        3,
        description=f"连续同比下降至少多少个季度才算持续下滑，{DECLINE_MIN}-{DECLINE_MAX} "
        "/ consecutive quarters of YoY decline required",
        json_schema_extra={"minimum": DECLINE_MIN, "maximum": DECLINE_MAX},
    )

    @field_validator("checks", mode="before")
    @classmethod
    def _known_checks(cls, value: Any) -> Any:
        if value is None:
            return list(KINDS)
        items = re.split(r"[,，、;；/\s]+", value.strip()) if isinstance(value, str) else list(value)
        out: list[str] = []
        for item in items:
            key = CHECK_ALIASES.get(str(item).strip().lower(), CHECK_ALIASES.get(str(item).strip()))
            if key is None:
                raise ValueError(
                    f"未知的检查项「{item}」。可选：cross_region（窜货）、below_floor（乱价）、"
                    "stock_buildup（压货）、declining（持续下滑）。"
                )
            if key not in out:
                out.append(key)
        if not out:
            raise ValueError("检查项 checks 不能为空；不填则做全部四项检查。")
        return out

    @field_validator("min_severity", mode="before")
    @classmethod
    def _known_severity(cls, value: Any) -> Any:
        key = SEVERITY_ALIASES.get(str(value).strip().lower()) if value is not None else None
        if key is None:
            raise ValueError(f"严重度 min_severity 只能是 低、中 或 高（收到「{value}」）。")
        return key

    @field_validator("lookback_quarters")
    @classmethod
    def _lookback_range(cls, value: int) -> int:
        if not 1 <= value <= LOOKBACK_MAX:
            raise ValueError(f"回看季度数 lookback_quarters 须在 1 到 {LOOKBACK_MAX} 之间（收到 {value}）。")
        return value

    @field_validator("decline_quarters")
    @classmethod
    def _decline_range(cls, value: int) -> int:
        if not DECLINE_MIN <= value <= DECLINE_MAX:
            raise ValueError(
                f"连续下滑季度数 decline_quarters 须在 {DECLINE_MIN} 到 {DECLINE_MAX} 之间（收到 {value}）。"
            )
        return value


class Finding(BaseModel):
    """One conflict signal for one partner (and SKU for 乱价), with the rows that prove it and what to do next."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    kind: Kind
    kind_zh: str
    partner_id: str
    partner_name: str
    region: str | None = None
    severity: Severity
    summary: str
    metrics: dict[str, Any] = Field(default_factory=dict)
    evidence: pd.DataFrame = Field(default_factory=pd.DataFrame)
    suggested_action: str
    guide_topic: str = "conflict"
    guide_source: str


# ---------------------------------------------------------------------------------------------------------------
# SQL
# ---------------------------------------------------------------------------------------------------------------

PARTNERS_SQL = f"""
p AS (
    SELECT partner_id, name, region, territory, {places_sql("territory")} AS terr
    FROM partners
    WHERE $region IS NULL OR region = $region
)"""

# Inside, outside or not judged: company.territory's rule, the one the rebate preconditions use.
CROSS_SQL = f"""
WITH {PARTNERS_SQL},
judged AS (
    SELECT s.order_id, s.line_no, CAST(s.date AS DATE) AS date, s.partner_id, s.sku,
           coalesce(s.quantity, 0) AS quantity,
           {line_price_sql("s")} AS price,
           coalesce(s.revenue, s.quantity * s.unit_price) AS amount,
           s.sold_to_province, s.sold_to_region, s.sold_to_city,
           p.name, p.region, p.territory,
           coalesce({verdict_sql("p.terr", "s.sold_to_province", "s.sold_to_region")} = '{OUTSIDE}', false) AS outside
    FROM sales s
    JOIN p USING (partner_id)
    WHERE s.date BETWEEN $start AND $end AND len(p.terr) > 0
),
totals AS (SELECT partner_id, sum(quantity) AS total_units FROM judged GROUP BY 1)
"""

CROSS_SUMMARY_SQL = (
    CROSS_SQL
    + """
SELECT j.partner_id, any_value(j.name) AS name, any_value(j.region) AS region, any_value(j.territory) AS territory,
       count(*) AS lines, sum(j.quantity) AS units, sum(j.amount) AS amount, any_value(t.total_units) AS total_units,
       sum(j.quantity) / nullif(any_value(t.total_units), 0) AS share,
       list(DISTINCT strftime(j.date, '%Y-%m') ORDER BY strftime(j.date, '%Y-%m')) AS months,
       list(DISTINCT coalesce(j.sold_to_province, j.sold_to_region)
            ORDER BY coalesce(j.sold_to_province, j.sold_to_region)) AS places,
       list(DISTINCT j.sku ORDER BY j.sku) AS skus
FROM judged j JOIN totals t USING (partner_id)
WHERE j.outside
GROUP BY j.partner_id
ORDER BY j.partner_id
"""
)

CROSS_LINES_SQL = (
    CROSS_SQL
    + """
SELECT partner_id, order_id, line_no, date, sku, quantity, price, amount, sold_to_province, sold_to_region,
       sold_to_city, territory
FROM judged WHERE outside
ORDER BY partner_id, date, order_id, line_no
"""
)

UNTERRITORIED_SQL = f"""
WITH {PARTNERS_SQL}
SELECT DISTINCT p.partner_id FROM p JOIN sales s USING (partner_id)
WHERE len(p.terr) = 0 AND s.date BETWEEN $start AND $end
ORDER BY 1
"""

# Below the floor: the semantic layer's rule for a line (line_price_sql, below_floor_sql), the one price
# compliance and the rebate precondition use.
FLOOR_SQL = f"""
WITH {PARTNERS_SQL},
s AS (
    SELECT s.order_id, s.line_no, CAST(s.date AS DATE) AS date, s.partner_id, s.sku,
           coalesce(s.quantity, 0) AS quantity,
           {line_price_sql("s")} AS price,
           coalesce(s.revenue, s.quantity * s.unit_price) AS amount,
           s.sold_to_province, s.sold_to_city,
           pr.name AS product_name, pr.floor_price, pr.list_price
    FROM sales s JOIN products pr USING (sku)
    WHERE s.date BETWEEN $start AND $end AND {floor_checked_sql("pr.floor_price")}
),
low AS (
    SELECT s.*, p.name, p.region, (s.floor_price - s.price) / s.floor_price AS depth
    FROM s JOIN p USING (partner_id)
    WHERE {below_floor_sql("s.price", "s.floor_price")}
)
"""

FLOOR_SUMMARY_SQL = (
    FLOOR_SQL
    + """
SELECT partner_id, sku, any_value(name) AS name, any_value(region) AS region, any_value(product_name) AS product_name,
       count(*) AS lines, sum(quantity) AS units, sum(amount) AS amount, min(price) AS min_price,
       any_value(floor_price) AS floor_price, any_value(list_price) AS list_price, max(depth) AS max_depth,
       sum((floor_price - price) * quantity) AS gap,
       list(DISTINCT strftime(date, '%Y-%m') ORDER BY strftime(date, '%Y-%m')) AS months
FROM low GROUP BY partner_id, sku ORDER BY partner_id, sku
"""
)

FLOOR_LINES_SQL = (
    FLOOR_SQL
    + """
SELECT partner_id, sku, order_id, line_no, date, quantity, price, floor_price, depth, amount, sold_to_province,
       sold_to_city
FROM low ORDER BY partner_id, sku, date, order_id, line_no
"""
)

NO_FLOOR_SQL = f"""
WITH {PARTNERS_SQL}
SELECT DISTINCT s.sku FROM sales s JOIN p USING (partner_id) LEFT JOIN products pr USING (sku)
WHERE s.date BETWEEN $start AND $end AND NOT coalesce({floor_checked_sql("pr.floor_price")}, false)
ORDER BY 1
"""

# Month-end stock = the partner's last snapshot in each month, summed over SKUs; the median runs over all
# months up to the window end so one spike cannot lift its own yardstick.
STOCK_SQL = f"""
WITH {PARTNERS_SQL},
snap AS (
    SELECT partner_id, CAST(date AS DATE) AS date, sum(on_hand) AS stock FROM inventory
    WHERE date <= $end AND partner_id IN (SELECT partner_id FROM p) GROUP BY 1, 2
),
monthly AS (
    SELECT partner_id, CAST(date_trunc('month', date) AS DATE) AS month, arg_max(stock, date) AS stock
    FROM snap GROUP BY 1, 2
),
med AS (SELECT partner_id, median(stock) AS med, count(*) AS n FROM monthly GROUP BY 1),
sell AS (
    SELECT partner_id, CAST(date_trunc('month', date) AS DATE) AS month, sum(coalesce(quantity, 0)) AS units
    FROM sales WHERE date <= $end GROUP BY 1, 2
),
data_start AS (SELECT CAST(date_trunc('month', min(date)) AS DATE) AS first_month FROM sales),
cand AS (
    SELECT m.partner_id, m.month, m.stock, med.med, m.stock / med.med AS stock_ratio,
           coalesce(s.units, 0) AS units
    FROM monthly m
    JOIN med USING (partner_id)
    LEFT JOIN sell s USING (partner_id, month)
    WHERE month(m.month) % 3 = 0 AND m.month BETWEEN $start AND $end
          AND med.med > 0 AND med.n >= $min_months AND m.stock >= $stock_min * med.med
),
prior AS (
    SELECT c.partner_id, c.month, median(coalesce(s.units, 0)) AS prior_median, count(*) AS prior_months
    FROM cand c
    CROSS JOIN range(1, 4) r(k)
    CROSS JOIN data_start d
    LEFT JOIN sell s ON s.partner_id = c.partner_id AND s.month = CAST(c.month - to_months(r.k) AS DATE)
    WHERE CAST(c.month - to_months(r.k) AS DATE) >= d.first_month
    GROUP BY 1, 2
)
SELECT c.partner_id, p.name, p.region, c.month, c.stock, c.med, c.stock_ratio, c.units, pr.prior_median,
       pr.prior_months, c.units / pr.prior_median AS sell_in_ratio
FROM cand c JOIN prior pr USING (partner_id, month) JOIN p USING (partner_id)
WHERE pr.prior_median > 0 AND c.units >= $sell_min * pr.prior_median
ORDER BY c.partner_id, c.month
"""

STOCK_SERIES_SQL = """
WITH snap AS (
    SELECT partner_id, CAST(date AS DATE) AS date, sum(on_hand) AS stock FROM inventory
    WHERE list_contains($ids, partner_id) AND date <= $end GROUP BY 1, 2
),
monthly AS (
    SELECT partner_id, CAST(date_trunc('month', date) AS DATE) AS month, arg_max(stock, date) AS stock
    FROM snap GROUP BY 1, 2
),
sell AS (
    SELECT partner_id, CAST(date_trunc('month', date) AS DATE) AS month, sum(coalesce(quantity, 0)) AS units
    FROM sales WHERE list_contains($ids, partner_id) AND date <= $end GROUP BY 1, 2
)
SELECT partner_id, month, m.stock, coalesce(s.units, 0) AS units
FROM monthly m FULL OUTER JOIN sell s USING (partner_id, month)
ORDER BY partner_id, month
"""

NO_STOCK_SQL = f"""
WITH {PARTNERS_SQL}
SELECT DISTINCT s.partner_id FROM sales s JOIN p USING (partner_id)
WHERE s.date BETWEEN $start AND $end
  AND s.partner_id NOT IN (SELECT DISTINCT partner_id FROM inventory WHERE date <= $end AND partner_id IS NOT NULL)
ORDER BY 1
"""

# Each partner's quarterly revenue and its change against the same quarter a year earlier (同比) come from the
# semantic layer (compile_per_partner, every partner in every quarter); this check only counts the streak.
DECLINE_SQL = """
WITH yoy AS (
    SELECT partner_id, quarter, revenue, revenue_yoy AS revenue_ago, revenue_yoy_change AS yoy
    FROM ({per_partner})
),
-- Counting non-declining quarters from the anchor backwards: the streak is the rows before the first one.
marked AS (
    SELECT *, sum(CASE WHEN yoy < 0 THEN 0 ELSE 1 END)
              OVER (PARTITION BY partner_id ORDER BY quarter DESC ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW)
              AS breaks
    FROM yoy
),
streak AS (SELECT * FROM marked WHERE breaks = 0),
long AS (SELECT partner_id FROM streak GROUP BY 1 HAVING count(*) >= $min_quarters)
SELECT s.partner_id, p.name, p.region, s.quarter, s.revenue, s.revenue_ago, s.yoy
FROM streak s JOIN long USING (partner_id) JOIN partners p USING (partner_id)
ORDER BY s.partner_id, s.quarter
"""


# ---------------------------------------------------------------------------------------------------------------
# Helpers
# ---------------------------------------------------------------------------------------------------------------


def _months_back(day: date, months: int) -> date:
    """First day of the month `months` before day's month."""
    serial = day.year * 12 + day.month - 1 - months
    return date(serial // 12, serial % 12 + 1, 1)


def _quarter_start(day: date) -> date:
    return date(day.year, (day.month - 1) // 3 * 3 + 1, 1)


def _quarter_key(day: date) -> str:
    return f"{day.year}Q{(day.month - 1) // 3 + 1}"


def _num(value: float) -> str:
    """1374 -> '1,374'; 1374.5 -> '1,374.5'."""
    value = float(value)
    return f"{value:,.0f}" if value == round(value) else f"{value:,.2f}".rstrip("0").rstrip(".")


def _money(value: float) -> str:
    return format_value("money", value)


def _pct(value: float) -> str:
    return percent(value)


def _text(value: Any) -> str | None:
    """A text cell, or None when it is missing (DuckDB NULLs arrive as None, NaN or pd.NA)."""
    return None if value is None or (not isinstance(value, str) and pd.isna(value)) else str(value)


def _step_up(severity: Severity) -> Severity:
    return SEVERITIES[min(SEVERITY_RANK[severity] + 1, 2)]


def _ids(values: list[str], limit: int = 5) -> str:
    shown = "、".join(values[:limit])
    return shown + (f" 等 {len(values)} 个" if len(values) > limit else "")


# ---------------------------------------------------------------------------------------------------------------
# Checks
# ---------------------------------------------------------------------------------------------------------------


class _Scan:
    """What every check needs: the store, the window, the data's first and last sale, and a place for warnings."""

    def __init__(self, store: Store, args: ConflictArgs, period: Period, start: date, end: date):
        self.store, self.args, self.period, self.start, self.end = store, args, period, start, end
        bounds = store.query("SELECT min(date) AS lo, max(date) AS hi FROM sales")
        self.data_start, self.data_end = (pd.Timestamp(bounds[c].iloc[0]).date() for c in ("lo", "hi"))
        self.warnings: list[str] = []
        self.notes: dict[str, Any] = {}

    def params(self, **extra: Any) -> dict[str, Any]:
        return {"region": self.args.region, "start": self.start, "end": self.end, **extra}

    @property
    def window(self) -> str:
        """The scanned dates that hold data, as the user would read them."""
        lo, hi = max(self.start, self.data_start), min(self.end, self.data_end)
        return f"{lo.isoformat()}~{hi.isoformat()}" if lo <= hi else f"{self.start.isoformat()}~{self.end.isoformat()}"


def _line_evidence(rows: pd.DataFrame, **columns: pd.Series) -> pd.DataFrame:
    """A finding's evidence: the sales lines behind it (order, line, date, product, units, price), then the columns
    the finding is about."""
    return pd.DataFrame(
        {
            "order_id": rows["order_id"],
            "line_no": rows["line_no"],
            "date": rows["date"].astype(str),
            "sku": rows["sku"],
            "quantity": rows["quantity"],
            "price": rows["price"].round(2),
            **columns,
        }
    ).reset_index(drop=True)


def _cross_region(scan: _Scan) -> list[Finding]:
    summary = scan.store.query(CROSS_SUMMARY_SQL, scan.params())
    lines = scan.store.query(CROSS_LINES_SQL, scan.params()) if not summary.empty else pd.DataFrame()
    missing = scan.store.query(UNTERRITORIED_SQL, scan.params())["partner_id"].tolist()
    if missing:
        scan.warnings.append(f"{_ids(missing)} 伙伴未登记授权区域，未做窜货判断；请在伙伴主数据中补充授权区域。")
    findings = []
    for row in summary.itertuples(index=False):
        name = _text(row.name) or str(row.partner_id)
        share = float(row.share or 0.0)
        months, places = [str(m) for m in row.months], [str(x) for x in row.places]
        severity: Severity = "高" if share >= CROSS_SHARE_HIGH else "中" if share >= CROSS_SHARE_MEDIUM else "低"
        if len(months) >= CROSS_REPEAT_MONTHS:
            severity = _step_up(severity)
        rows = lines[lines["partner_id"] == row.partner_id]
        evidence = _line_evidence(
            rows,
            revenue=rows["amount"].round(2),
            sold_to_province=rows["sold_to_province"],
            sold_to_region=rows["sold_to_region"],
            sold_to_city=rows["sold_to_city"],
            territory=rows["territory"],
        )
        metrics = {
            "lines": int(row.lines),
            "units": float(row.units),
            "amount": round(float(row.amount), 2),
            "total_units": float(row.total_units),
            "share": round(share, 4),
            "months": months,
            "month_count": len(months),
            "sold_to": places,
            "skus": [str(x) for x in row.skus],
            "territory": _text(row.territory),
        }
        summary_text = (
            f"{name}在 {scan.window} 有 {_num(row.units)} 件（{_money(row.amount)} 元）售往授权区域"
            f"（{row.territory}）以外的{'、'.join(places)}，占其同期销量的 {_pct(share)}，涉及 {len(months)} 个月。"
        )
        action = (
            f"48 小时内调取售往{'、'.join(places)}的物流单据，核对箱码和批号，确认货物出自该伙伴；"
            "书面通知违规事实与合同条款，给 3 个工作日申辩期；"
            + (
                "按协议扣减当季返利（如首次扣 30%）或按箱从市场秩序保证金扣除，并要求回购窜出货物或补偿被窜区域差价；"
                "本年度再犯即暂停供货 7-15 天、取消当季返利，第三次终止授权；"
                if severity != "低"
                else "首次且数量不大的发正式警告，要求回购窜出货物或承担被窜区域经销商的差价损失；"
                "本年度再犯按协议扣减当季返利或保证金，屡犯暂停供货；"
            )
            + "同时检查返利门槛和区域价差是否诱发窜货，处理后回访被窜区域确认价格恢复。"
        )
        findings.append(
            Finding(
                kind="cross_region",
                kind_zh=KIND_ZH["cross_region"],
                partner_id=str(row.partner_id),
                partner_name=name,
                region=_text(row.region),
                severity=severity,
                summary=summary_text,
                metrics=metrics,
                evidence=evidence,
                suggested_action=action,
                guide_source=GUIDE_SOURCE["cross_region"],
            )
        )
    return findings


def _below_floor(scan: _Scan) -> list[Finding]:
    summary = scan.store.query(FLOOR_SUMMARY_SQL, scan.params())
    lines = scan.store.query(FLOOR_LINES_SQL, scan.params()) if not summary.empty else pd.DataFrame()
    no_floor = scan.store.query(NO_FLOOR_SQL, scan.params())["sku"].tolist()
    if no_floor:
        scan.warnings.append(f"{_ids(no_floor)} SKU 没有设置最低限价，未做乱价判断；请在产品主数据中补充最低限价。")
    findings = []
    for row in summary.itertuples(index=False):
        name = _text(row.name) or str(row.partner_id)
        depth = float(row.max_depth)
        severity: Severity = "高" if depth >= FLOOR_DEPTH_HIGH else "中" if depth >= FLOOR_DEPTH_MEDIUM else "低"
        rows = lines[(lines["partner_id"] == row.partner_id) & (lines["sku"] == row.sku)]
        evidence = _line_evidence(
            rows,
            floor_price=rows["floor_price"].round(2),
            below_floor=(rows["depth"] * 100).round(2),
            revenue=rows["amount"].round(2),
            sold_to_province=rows["sold_to_province"],
            sold_to_city=rows["sold_to_city"],
        )
        months = [str(m) for m in row.months]
        product = row.product_name if isinstance(row.product_name, str) else row.sku
        metrics = {
            "sku": row.sku,
            "product_name": product,
            "lines": int(row.lines),
            "units": float(row.units),
            "amount": round(float(row.amount), 2),
            "min_price": round(float(row.min_price), 2),
            "floor_price": round(float(row.floor_price), 2),
            "list_price": None if pd.isna(row.list_price) else round(float(row.list_price), 2),
            "max_depth": round(depth, 4),
            "price_gap": round(float(row.gap), 2),
            "months": months,
        }
        summary_text = (
            f"{name}的 {row.sku}（{product}）在 {scan.window} 有 {int(row.lines)} 行低于最低限价 "
            f"{_money(row.floor_price)} 元成交，最低 {_money(row.min_price)} 元、低于限价 {_pct(depth)}，"
            f"涉及 {_num(row.units)} 件、{_money(row.amount)} 元（{'、'.join(months)}）。"
        )
        action = (
            f"追溯 {row.sku} 低价货的去向与定价人（伙伴本身还是其下游二批、终端），核对上述成交单据；"
            f"书面通知限期恢复到最低限价 {_money(row.floor_price)} 元以上，给 3 个工作日申辩期；"
            + (
                "按协议扣减当季返利或从市场秩序保证金中扣除，屡犯暂停供货；"
                if severity != "低"
                else "首次且偏离不大的发正式警告，再犯按协议扣减返利或保证金；"
            )
            + "确因竞争需要调价的，须由伙伴申请、厂家批准后统一执行，不得自行降价。"
        )
        findings.append(
            Finding(
                kind="below_floor",
                kind_zh=KIND_ZH["below_floor"],
                partner_id=str(row.partner_id),
                partner_name=name,
                region=_text(row.region),
                severity=severity,
                summary=summary_text,
                metrics=metrics,
                evidence=evidence,
                suggested_action=action,
                guide_source=GUIDE_SOURCE["below_floor"],
            )
        )
    return findings


def _stock_buildup(scan: _Scan) -> list[Finding]:
    spikes = scan.store.query(
        STOCK_SQL,
        scan.params(
            min_months=STOCK_MIN_MONTHS,
            stock_min=STOCK_RATIO_MIN,
            sell_min=SELL_IN_RATIO_MIN,
        ),
    )
    no_stock = scan.store.query(NO_STOCK_SQL, scan.params())["partner_id"].tolist()
    if no_stock:
        scan.warnings.append(f"{_ids(no_stock)} 伙伴在扫描期内有销售但没有库存数据，未做压货判断。")
    if spikes.empty:
        return []
    ids = sorted(spikes["partner_id"].unique().tolist())
    series = scan.store.query(STOCK_SERIES_SQL, {"ids": ids, "end": scan.end})
    series["month"] = pd.to_datetime(series["month"])
    spikes["month"] = pd.to_datetime(spikes["month"])
    findings = []
    for pid, group in spikes.groupby("partner_id", sort=True):
        top = group.loc[group["stock_ratio"].idxmax()]
        name = _text(top["name"]) or str(pid)
        ratio = float(top["stock_ratio"])
        severity: Severity = "高" if ratio >= STOCK_RATIO_HIGH else "中" if ratio >= STOCK_RATIO_MEDIUM else "低"
        months = [m.strftime("%Y-%m") for m in group["month"]]
        median = float(top["med"])
        own = series[series["partner_id"] == pid].sort_values("month")
        around = pd.Series(False, index=own.index)
        for month in group["month"]:
            around |= (own["month"] >= month - pd.DateOffset(months=3)) & (
                own["month"] <= month + pd.DateOffset(months=1)
            )
        own = own[around]
        evidence = pd.DataFrame(
            {
                "month": own["month"].dt.strftime("%Y-%m"),
                "stock": own["stock"],
                "stock_ratio": (own["stock"] / median).round(4),
                "sell_in": own["units"],
                "abnormal": own["month"].isin(group["month"]).map({True: "是", False: ""}),
            }
        ).reset_index(drop=True)
        metrics = {
            "months": months,
            "median_stock": round(median, 2),
            "stock": [float(v) for v in group["stock"]],
            "stock_ratio": [round(float(v), 4) for v in group["stock_ratio"]],
            "sell_in": [float(v) for v in group["units"]],
            "prior_median": [round(float(v), 2) for v in group["prior_median"]],
            "sell_in_ratio": [round(float(v), 4) for v in group["sell_in_ratio"]],
            "max_stock_ratio": round(ratio, 4),
            "excess_units": round(float(top["stock"]) - median, 2),
        }
        month_text = "、".join(months)
        summary_text = (
            f"{name}在 {month_text} 季末库存激增、进货暴涨：{top['month'].strftime('%Y-%m')} 月末库存 "
            f"{_num(top['stock'])} 件，是其月末库存中位数 {_num(median)} 件的 {ratio:.2f} 倍，当月进货 "
            f"{_num(top['units'])} 件，是前 {int(top['prior_months'])} 个月中位数的 "
            f"{float(top['sell_in_ratio']):.2f} 倍。"
        )
        action = (
            "核对该伙伴季末进货与终端动销（出库、扫码）数据，确认是否为冲返利压货；"
            "本季返利对超出正常库存天数的进货不计返利基数，改按动销核算；"
            "跟踪随后 1-2 个月的库存消化，并留意邻近区域是否出现低价货（压货后常伴窜货乱价）；"
            "与伙伴按动销共同制定备货计划，取消季末压货式考核。"
        )
        findings.append(
            Finding(
                kind="stock_buildup",
                kind_zh=KIND_ZH["stock_buildup"],
                partner_id=str(pid),
                partner_name=name,
                region=_text(top["region"]),
                severity=severity,
                summary=summary_text,
                metrics=metrics,
                evidence=evidence,
                suggested_action=action,
                guide_source=GUIDE_SOURCE["stock_buildup"],
            )
        )
    return findings


def _decline_quarters(scan: _Scan) -> tuple[date, list[date]] | None:
    """The anchor quarter (last complete quarter up to the period end) and the quarters that have a year-ago twin."""
    lo, hi = scan.data_start, scan.data_end
    # A quarter counts only when the data reaches into its first and last months; a partial quarter would read
    # as a fall against a full year-ago quarter.
    first_q = _quarter_start(lo) if lo.month % 3 == 1 else _months_back(_quarter_start(lo), -3)
    last_q = _quarter_start(hi)
    if hi.month % 3 != 0:
        if _quarter_start(scan.period.end) >= last_q:
            scan.warnings.append(
                f"{_quarter_key(last_q)} 的数据还不完整（截至 {hi.isoformat()}），持续下滑检查不含该季度。"
            )
        last_q = _months_back(last_q, 3)
    anchor = min(_quarter_start(scan.period.end), last_q)
    quarters = []
    current = anchor
    while _months_back(current, 12) >= first_q:
        quarters.append(current)
        current = _months_back(current, 3)
    if len(quarters) < scan.args.decline_quarters:
        scan.warnings.append(
            f"截至 {_quarter_key(anchor)} 只有 {len(quarters)} 个季度有完整的去年同期数据，"
            f"不足 {scan.args.decline_quarters} 个季度，未做持续下滑判断。"
        )
        return None
    scan.notes["decline_anchor"] = _quarter_key(anchor)
    return anchor, sorted(quarters)


def _declining(scan: _Scan) -> list[Finding]:
    resolved = _decline_quarters(scan)
    if resolved is None:
        return []
    anchor, quarters = resolved
    window = TimeWindow(start=quarters[0], end=_months_back(anchor, -3) - timedelta(days=1))
    region = scan.args.region
    scope = Scope(partners=("p.region = $region",), params={"region": region}) if region is not None else None
    per_partner = compile_per_partner(["revenue"], window, grain="quarter", compared={"yoy": ["revenue"]}, scope=scope)
    rows = scan.store.query(
        DECLINE_SQL.format(per_partner=per_partner.sql),
        {**per_partner.params, "min_quarters": scan.args.decline_quarters},
    )
    findings = []
    for pid, group in rows.groupby("partner_id", sort=True):
        group = group.sort_values("quarter")
        keys = [str(q) for q in group["quarter"]]
        avg = float(group["yoy"].mean())
        severity: Severity = "高" if avg <= DECLINE_HIGH else "中" if avg <= DECLINE_MEDIUM else "低"
        last = group.iloc[-1]
        name = _text(last["name"]) or str(pid)
        gap = float((group["revenue_ago"] - group["revenue"]).sum())
        evidence = pd.DataFrame(
            {
                "quarter": keys,
                "revenue": group["revenue"].round(2).to_numpy(),
                "revenue_year_ago": group["revenue_ago"].round(2).to_numpy(),
                "yoy": (group["yoy"] * 100).round(2).to_numpy(),
            }
        )
        metrics = {
            "quarters": keys,
            "streak": len(keys),
            "revenue": [round(float(v), 2) for v in group["revenue"]],
            "revenue_year_ago": [round(float(v), 2) for v in group["revenue_ago"]],
            "yoy": [round(float(v), 4) for v in group["yoy"]],
            "avg_yoy": round(avg, 4),
            "revenue_gap": round(gap, 2),
        }
        summary_text = (
            f"{name}连续 {len(keys)} 个季度（{keys[0]}~{keys[-1]}）销售额同比下降，平均同比 {_pct(avg)}；"
            f"{keys[-1]} 销售额 {_money(last['revenue'])} 元，去年同期 {_money(last['revenue_ago'])} 元。"
        )
        action = (
            "先核查事实：对照该伙伴的库存、回款、满意度和所在区域的竞品与窜货投诉，区分是市场萎缩、目标脱离市场容量、"
            "被邻区窜货挤压，还是伙伴自身经营问题；与伙伴面谈共同诊断，按市场容量重新商定目标并制定动销帮扶计划；"
            "如仍无改善，列入观察级，下季度评估调整区域或更换伙伴。"
        )
        findings.append(
            Finding(
                kind="declining",
                kind_zh=KIND_ZH["declining"],
                partner_id=str(pid),
                partner_name=name,
                region=_text(last["region"]),
                severity=severity,
                summary=summary_text,
                metrics=metrics,
                evidence=evidence,
                suggested_action=action,
                guide_source=GUIDE_SOURCE["declining"],
            )
        )
    return findings


CHECKS: dict[str, Callable[[_Scan], list[Finding]]] = {
    "cross_region": _cross_region,
    "below_floor": _below_floor,
    "stock_buildup": _stock_buildup,
    "declining": _declining,
}


# ---------------------------------------------------------------------------------------------------------------
# The tool
# ---------------------------------------------------------------------------------------------------------------


def _involved(finding: Finding) -> tuple[float | None, float | None]:
    """(units, 元) a finding concerns, for the summary table."""
    m = finding.metrics
    if finding.kind in ("cross_region", "below_floor"):
        return m["units"], m["amount"]
    if finding.kind == "stock_buildup":
        return m["excess_units"], None
    return None, m["revenue_gap"]


def _magnitude(finding: Finding) -> float:
    units, amount = _involved(finding)
    return float(amount if amount is not None else units or 0.0)


def _summary_table(findings: list[Finding]) -> pd.DataFrame:
    rows = []
    for f in findings:
        units, amount = _involved(f)
        rows.append(
            {
                "kind": f.kind_zh,
                "partner_id": f.partner_id,
                "partner_name": f.partner_name,
                "region": f.region,
                "severity": f.severity,
                "units": units,
                "amount": None if amount is None else round(amount, 2),
                "summary": f.summary,
            }
        )
    columns = ["kind", "partner_id", "partner_name", "region", "severity", "units", "amount", "summary"]
    frame = pd.DataFrame(rows, columns=columns)
    for column in ("units", "amount"):
        frame[column] = pd.to_numeric(frame[column], errors="coerce").astype(float)
    return frame


def _count_table(findings: list[Finding], checks: list[str]) -> pd.DataFrame:
    rows = []
    for kind in checks:
        counts = {
            SEVERITY_COLUMNS[s]: sum(1 for f in findings if f.kind == kind and f.severity == s)
            for s in ("高", "中", "低")
        }
        rows.append({"kind": KIND_ZH[kind], **counts, "total": sum(counts.values())})
    return pd.DataFrame(rows, columns=["kind", "high", "medium", "low", "total"])


def _explanation(findings: list[Finding], checks: list[str], scan: _Scan, hidden: int) -> str:
    if not checks:
        return "缺少所需数据，没有做任何冲突检查。"
    names = "、".join(KIND_ZH[k] for k in checks)
    floor = "" if scan.args.min_severity == "低" else f"（严重度不低于「{scan.args.min_severity}」）"
    if not findings:
        text = f"在 {scan.window} 的扫描范围内未发现{names}信号{floor}。"
    else:
        parts = "、".join(f"{KIND_ZH[k]} {n} 项" for k in checks if (n := sum(1 for f in findings if f.kind == k)))
        top = findings[0]
        text = f"共发现 {len(findings)} 项渠道异常{floor}：{parts}。"
        text += f"最严重的是{top.kind_zh}（{top.severity}）：{top.summary}"
    if hidden:
        text += f"另有 {hidden} 项低于「{scan.args.min_severity}」严重度的信号未列出。"
    return text


# The data each check needs (company.capabilities).
CHECK_INPUTS: dict[str, tuple[str, ...]] = {
    "cross_region": ("territories", "sold_to"),
    "below_floor": ("floor_prices",),
    "stock_buildup": ("inventory",),
    "declining": ("sales",),
}
# Words of the per-item warnings a skipped check would otherwise also print.
_SKIPPED_HINTS = {"floor_prices": "最低限价", "inventory": "库存数据", "territories": "授权区域", "sold_to": "售达"}


@register("detect_conflicts", ConflictArgs)
def detect_conflicts(store: Store, args: ConflictArgs) -> ToolResult:
    """Run the chosen conflict checks and return findings, a summary table and counts by kind and severity."""
    period = resolve_period(store, args.period)
    if args.region is not None:
        regions = store.query("SELECT DISTINCT region FROM partners WHERE region IS NOT NULL ORDER BY 1")["region"]
        if args.region not in set(regions):
            raise ToolError(f"没有区域为「{args.region}」的伙伴。可选区域：{'、'.join(regions)}；不填则看全部区域。")
    start = min(period.start, _months_back(period.end, 3 * args.lookback_quarters - 1))
    scan = _Scan(store, args, period, start, period.end)
    if start > scan.data_end or period.end < scan.data_start:
        scan.warnings.append(
            f"扫描区间 {start.isoformat()}~{period.end.isoformat()} 内没有销售明细（数据范围 "
            f"{scan.data_start.isoformat()}~{scan.data_end.isoformat()}），没有发现不代表没有问题；请换一个期间。"
        )

    available = availability(store)
    missing: list[Missing] = []
    checks: list[str] = []
    for kind in args.checks:  # a check runs only when the data it needs exists; otherwise it says so
        lacking = available.lacking(CHECK_INPUTS[kind])
        if lacking:
            missing += [available.missing(k, f"没有做「{KIND_ZH[kind]}」检查") for k in lacking]
        else:
            checks.append(kind)
    if missing:
        scan.warnings = [w for w in scan.warnings if not any(m.zh in w or _SKIPPED_HINTS[m.key] in w for m in missing)]
    found: list[Finding] = []
    for kind in checks:
        found.extend(CHECKS[kind](scan))
    threshold = SEVERITY_RANK[args.min_severity]
    findings = [f for f in found if SEVERITY_RANK[f.severity] >= threshold]
    findings.sort(key=lambda f: (-SEVERITY_RANK[f.severity], KINDS.index(f.kind), -_magnitude(f), f.partner_id))

    figures: dict[str, float | int | str | None] = {
        "findings_total": len(findings),
        **{
            f"{SEVERITY_COLUMNS[s]}_severity_findings": sum(1 for f in findings if f.severity == s)
            for s in ("高", "中", "低")
        },
        **{f"{k}_findings": sum(1 for f in findings if f.kind == k) for k in checks},
        "scan_start": start.isoformat(),
        "scan_end": period.end.isoformat(),
    }
    if "decline_anchor" in scan.notes:
        figures["decline_through"] = scan.notes["decline_anchor"]
    return ToolResult(
        tool="detect_conflicts",
        title="渠道冲突排查（窜货、乱价、压货、持续下滑）",
        period=period.span,
        explanation=_explanation(findings, checks, scan, len(found) - len(findings))
        + (f"因缺少数据未检查：{'、'.join(KIND_ZH[k] for k in args.checks if k not in checks)}。" if missing else ""),
        formula=(
            "窜货占比 = 授权区域外售出件数 ÷ 该伙伴扫描期内总件数；"
            "低于限价幅度 = (最低限价 − 成交单价) ÷ 最低限价；"
            "库存倍数 = 季末月末库存 ÷ 该伙伴月末库存中位数，进货倍数 = 当月进货件数 ÷ 前 3 个月进货件数的中位数；"
            "同比 = 本季销售额 ÷ 去年同季销售额 − 1"
        ),
        parameters={
            **args.model_dump(),
            "scan_start": start.isoformat(),
            "scan_end": period.end.isoformat(),
            "thresholds": {
                "窜货占比 高/中": [CROSS_SHARE_HIGH, CROSS_SHARE_MEDIUM],
                "窜货重复月数升级": CROSS_REPEAT_MONTHS,
                "低于限价 高/中": [FLOOR_DEPTH_HIGH, FLOOR_DEPTH_MEDIUM],
                "库存倍数 触发/中/高": [STOCK_RATIO_MIN, STOCK_RATIO_MEDIUM, STOCK_RATIO_HIGH],
                "进货倍数 触发": SELL_IN_RATIO_MIN,
                "平均同比 高/中": [DECLINE_HIGH, DECLINE_MEDIUM],
            },
        },
        tables={"findings": _summary_table(findings), "counts": _count_table(findings, checks)},
        labels=LABELS,
        figures=figures,
        warnings=scan.warnings,
        missing=missing,
        data=findings,
    )
