"""PNG charts for plan documents (bar, line, Gantt), drawn by matplotlib's Agg backend in Noto Sans CJK SC.

The font comes from the PyPI package noto-cjk-sans-otc (in requirements.txt), never from whatever the
machine happens to have: its file is registered with matplotlib's font manager and every Chinese text
is drawn from that file's Simplified Chinese face.
"""

from __future__ import annotations

import io
from datetime import date, timedelta
from functools import lru_cache
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # no display: documents are rendered on servers and in tests

import matplotlib.dates
import pandas as pd
from matplotlib import font_manager, ft2font
from matplotlib import rc_context as _rc_context
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter

from company.errors import CanmouError
from documents.model import Chart

FONT_PACKAGE = "noto-cjk-sans-otc"
FAMILY = "Noto Sans CJK SC"
PROBE = "渠道参谋季度返利档位华东费用率窜货"  # characters every plan shows; all must be in the face
PALETTE = ["#1F4E79", "#2E75B6", "#9DC3E6", "#C55A11", "#548235", "#7F7F7F", "#BF9000"]
WIDTH_IN, HEIGHT_IN, DPI = 6.4, 3.4, 200  # 1280 × 680 px; shown 16 cm wide in Word


class FontMissingError(CanmouError):
    """The Chinese font for charts is not installed, so chart text would show as empty boxes."""


def _missing(detail: str) -> FontMissingError:
    return FontMissingError(
        f"找不到图表用的中文字体（{detail}）。请在项目虚拟环境里安装字体包：pip install {FONT_PACKAGE}"
        "（已写在 requirements.txt，运行 make run 或 make test 会自动安装），然后重新生成文档。"
    )


def font_file() -> Path:
    """The Noto Sans CJK collection shipped by the noto-cjk-sans-otc package."""
    try:
        from noto_cjk_sans_otc import FONT_PATH
    except ImportError as exc:
        raise _missing(f"没有安装 {FONT_PACKAGE}") from exc
    return Path(str(FONT_PATH))


@lru_cache(maxsize=4)
def _registered(path: str) -> font_manager.FontProperties:
    if not Path(path).is_file():
        raise _missing(f"文件不存在：{path}")
    try:
        faces = ft2font.FT2Font(path).num_faces
        names = {i: ft2font.FT2Font(path, face_index=i) for i in range(faces)}
    except (OSError, RuntimeError) as exc:
        raise _missing(f"无法读取字体文件 {path}：{exc}") from exc
    index = next((i for i, face in names.items() if face.family_name == FAMILY), None)
    if index is None:
        raise _missing(f"{Path(path).name} 里没有 {FAMILY}（简体中文）字形")
    absent = [ch for ch in PROBE if names[index].get_char_index(ord(ch)) == 0]
    if absent:
        raise _missing(f"{FAMILY} 缺少这些字：{''.join(absent)}")
    font_manager.fontManager.addfont(path)
    return font_manager.FontProperties(fname=font_manager.FontPath(path, index))


def chinese_font(path: Path | str | None = None) -> font_manager.FontProperties:
    """Register the CJK font file with matplotlib and return properties pinned to its Simplified Chinese face.

    Raises FontMissingError with an actionable Chinese message when the file or the face is missing.
    """
    return _registered(str(path or font_file()))


def _font(base: font_manager.FontProperties, size: float, bold: bool = False) -> font_manager.FontProperties:
    prop = base.copy()
    prop.set_size(size)
    prop.set_weight("bold" if bold else "normal")
    return prop


def _scaled(chart: Chart) -> tuple[pd.DataFrame, str]:
    """Money columns in 元 with large values are drawn in 万元 so axis labels stay short."""
    data = chart.data.copy()
    label = chart.y_label or (chart.y[0] if len(chart.y) == 1 else "")
    money = all("元" in c and "万元" not in c for c in chart.y)
    peak = max((pd.to_numeric(data[c], errors="coerce").abs().max() for c in chart.y), default=0)
    if money and pd.notna(peak) and peak >= 100_000:
        for column in chart.y:
            data[column] = pd.to_numeric(data[column], errors="coerce") / 10_000
        label = label.replace("(元)", "(万元)").replace("（元）", "（万元）") if label else "万元"
        if "万元" not in label:
            label += "（万元）"
    return data, label


def _label_decimals(values: pd.Series) -> int:
    """One precision per chart: whole numbers, or values from 1,000 up, show none; smaller ones show two."""
    present = values.dropna()
    if present.empty or (present == present.round()).all() or present.abs().max() >= 1000:
        return 0
    return 2


def _value_text(value: float, decimals: int) -> str:
    return "" if pd.isna(value) else f"{value:,.{decimals}f}"


def _style_axes(ax, font: font_manager.FontProperties) -> None:
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    ax.spines["left"].set_color("#BFBFBF")
    ax.spines["bottom"].set_color("#BFBFBF")
    ax.tick_params(colors="#404040", labelsize=8)


def _bar(ax, chart: Chart, font) -> None:
    data, label = _scaled(chart)
    categories = [str(v) for v in data[chart.x]]
    count, series = len(categories), len(chart.y)
    width = 0.7 / series
    for i, column in enumerate(chart.y):
        values = pd.to_numeric(data[column], errors="coerce")
        offsets = [p - 0.35 + width * (i + 0.5) for p in range(count)]
        bars = ax.bar(offsets, values.fillna(0), width=width * 0.92, color=PALETTE[i % len(PALETTE)], label=column)
        decimals = _label_decimals(values)
        for bar, value in zip(bars, values, strict=True):
            ax.annotate(
                _value_text(value, decimals),
                (bar.get_x() + bar.get_width() / 2, bar.get_height()),
                xytext=(0, 2),
                textcoords="offset points",
                ha="center",
                va="bottom",
                fontproperties=_font(font, 7.5),
                color="#262626",
            )
    ax.set_xticks(range(count), labels=categories, fontproperties=_font(font, 8.5))
    ax.set_ylabel(label, fontproperties=_font(font, 9))
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _p: f"{v:,.0f}"))
    ax.grid(axis="y", color="#E7E6E6", linewidth=0.6)
    ax.set_axisbelow(True)
    ax.margins(y=0.15)
    if series > 1:
        ax.legend(prop=_font(font, 8), frameon=False)


def _line(ax, chart: Chart, font) -> None:
    data, label = _scaled(chart)
    categories = [str(v) for v in data[chart.x]]
    for i, column in enumerate(chart.y):
        values = pd.to_numeric(data[column], errors="coerce")
        ax.plot(
            range(len(categories)),
            values,
            marker="o",
            markersize=3.5,
            linewidth=1.6,
            color=PALETTE[i % len(PALETTE)],
            label=column,
        )
    step = max(1, len(categories) // 12)
    ax.set_xticks(range(0, len(categories), step), labels=categories[::step], fontproperties=_font(font, 8))
    ax.set_ylabel(label, fontproperties=_font(font, 9))
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _p: f"{v:,.0f}" if abs(v) >= 100 else f"{v:,.1f}"))
    ax.grid(axis="y", color="#E7E6E6", linewidth=0.6)
    ax.legend(prop=_font(font, 8), frameon=False)


def _gantt(ax, chart: Chart, font) -> None:
    start_col, end_col = chart.y
    data = chart.data.reset_index(drop=True)
    starts = [pd.Timestamp(v).date() for v in data[start_col]]
    ends = [pd.Timestamp(v).date() + timedelta(days=1) for v in data[end_col]]  # end dates are inclusive
    rows = len(data)
    for i in range(rows):
        y = rows - 1 - i  # first task on top
        ax.barh(
            y,
            (ends[i] - starts[i]).days,
            left=matplotlib.dates.date2num(starts[i]),
            height=0.55,
            color=PALETTE[i % 3],
            edgecolor="white",
        )
        if chart.label:
            ax.text(
                matplotlib.dates.date2num(starts[i]) + (ends[i] - starts[i]).days / 2,
                y,
                str(data.loc[i, chart.label]),
                ha="center",
                va="center",
                color="white" if i % 3 < 2 else "#1F1F1F",
                fontproperties=_font(font, 8),
            )
    ax.set_yticks(range(rows), labels=[str(v) for v in data[chart.x]][::-1], fontproperties=_font(font, 9))
    first, last = min(starts), max(ends)
    months, cursor = [], date(first.year, first.month, 1)
    while cursor <= last:
        months.append(cursor)
        cursor = date(cursor.year + cursor.month // 12, cursor.month % 12 + 1, 1)
    ax.set_xticks(
        [matplotlib.dates.date2num(m) for m in months],
        labels=[f"{m.year}年{m.month}月" if m.month == 1 or m == months[0] else f"{m.month}月" for m in months],
        fontproperties=_font(font, 8),
    )
    for marker in chart.markers:
        when = matplotlib.dates.date2num(pd.Timestamp(marker).date())
        ax.axvline(when, color="#C55A11", linestyle="--", linewidth=0.8)
        ax.annotate(
            f"复盘 {pd.Timestamp(marker):%m-%d}",
            (when, rows - 0.45),
            xytext=(3, 0),
            textcoords="offset points",
            ha="left",
            va="bottom",
            color="#C55A11",
            fontproperties=_font(font, 7),
        )
    ax.set_xlim(matplotlib.dates.date2num(first) - 2, matplotlib.dates.date2num(last) + 6)
    ax.set_ylim(-0.6, rows - 0.1)
    ax.grid(axis="x", color="#E7E6E6", linewidth=0.6)
    ax.set_axisbelow(True)


DRAW = {"bar": _bar, "line": _line, "gantt": _gantt}


def render_png(chart: Chart, font_path: Path | str | None = None) -> bytes:
    """The chart as PNG bytes (1280 px wide); identical specs are drawn once per process."""
    return _render(chart.model_dump_json(), str(font_path or font_file()))


@lru_cache(maxsize=64)
def _render(spec: str, font_path: str) -> bytes:
    chart = Chart.model_validate_json(spec)
    font = chinese_font(font_path)
    # Any text not given the font explicitly (numeric ticks) still prefers the CJK family over DejaVu.
    with _rc_context(
        {"font.family": "sans-serif", "font.sans-serif": [FAMILY, "DejaVu Sans"], "axes.unicode_minus": False}
    ):
        figure = Figure(figsize=(WIDTH_IN, HEIGHT_IN if chart.kind != "gantt" else 2.6), dpi=DPI)
        FigureCanvasAgg(figure)
        ax = figure.add_subplot()
        DRAW[chart.kind](ax, chart, font)
        _style_axes(ax, font)
        ax.set_title(chart.title, fontproperties=_font(font, 11, bold=True), color="#1F1F1F", loc="left", pad=10)
        if chart.x_label:
            ax.set_xlabel(chart.x_label, fontproperties=_font(font, 9))
        figure.tight_layout()
        buffer = io.BytesIO()
        figure.savefig(buffer, format="png", dpi=DPI, facecolor="white")
    return buffer.getvalue()
