"""The dashboard's charts (Plotly), built from core's tables: presentation only, so it lives beside the pages.

Every option keeps one colour in every chart and view: its place among all the organisation's options
(by name, then id) picks it from one palette; Unassigned is always grey.
"""
import pandas as pd
import plotly.graph_objects as go
from plotly.colors import qualitative

from core import revenue

PALETTE = qualitative.Plotly + qualitative.Dark24
UNASSIGNED_COLOUR = "#b4b4b4"


def option_colours(option_names: dict[str, str]) -> dict[str | None, str]:
    """option id → colour, for every option (`option_names`: id → name, all categories); None → grey."""
    ordered = sorted(option_names, key=lambda option: (option_names[option].casefold(), option))
    return {None: UNASSIGNED_COLOUR} | {option: PALETTE[i % len(PALETTE)] for i, option in enumerate(ordered)}


def revenue_by_period(periods: pd.DataFrame, view: str, *, slot_name: str, currency: str,
                      colours: dict[str | None, str]) -> go.Figure:
    """A bar per period, stacked by option (negative amounts stack below zero), from `revenue.by_period`."""
    column = "as_in_xero" if view == "xero" else "after_rules"
    fig = go.Figure(layout={"barmode": "relative", "legend_title_text": slot_name,
                            "yaxis_title": f"Revenue ({currency}, ex tax)", "xaxis": {"type": "category"},
                            "title": f"Revenue by {slot_name} · {revenue.VIEWS[view]}"})
    for (option_id, option), rows in periods.groupby(["option_id", "option"], sort=False, dropna=False):
        fig.add_bar(name=option, x=list(rows["period"]), y=[float(v) for v in rows[column]],
                    marker_color=colours.get(None if pd.isna(option_id) else option_id),
                    hovertemplate=f"{option}<br>%{{x}}: %{{y:,.2f}} {currency}<extra></extra>")
    return fig


def now_and_before(table: pd.DataFrame, period: int, *, slot_name: str, currency: str, names: tuple[str, str],
                   colours: dict[str | None, str]) -> go.Figure:
    """Per option of a slot (`overview.Money.by_option`): the period to date and the same stretch before, side by
    side, each option in its colour (the period before paler)."""
    fig = go.Figure(layout={"barmode": "group", "showlegend": False, "height": 320,
                            "yaxis_title": f"{currency}, ex tax", "xaxis": {"type": "category"},
                            "title": f"{names[0]} by {slot_name}, next to {names[1]}", "margin": {"t": 40}})
    marker = [colours.get(None if pd.isna(o) else o) for o in table["option_id"]]
    fig.add_bar(name=names[1], x=list(table["option"]), y=[float(v) for v in table[f"before_{period}"]],
                marker_color=marker, opacity=0.4, hovertemplate=f"%{{x}}, {names[1]}: %{{y:,.2f}}<extra></extra>")
    fig.add_bar(name=names[0], x=list(table["option"]), y=[float(v) for v in table[f"now_{period}"]],
                marker_color=marker, hovertemplate=f"%{{x}}, {names[0]}: %{{y:,.2f}}<extra></extra>")
    return fig
