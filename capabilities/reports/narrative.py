"""A report's executive summary: a few sentences written from its own figures
(revenue, growth from the first month to the last, best and weakest months,
top SKUs, flagged regions), the same every time for the same figures.

When a language model is configured (REPORTS_LLM_BASE_URL, by default the
Q&A model server QA_LLM_BASE_URL), the build job asks it to reword the
summary; the rewording is kept only when it holds exactly the summary's
numbers, no more and no fewer. Otherwise the deterministic text stands."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from capabilities import language_model
from capabilities.capability_settings import capability_setting
from metering import formatting

TOP_SKUS_SAID = 3
TENTH = Decimal("0.1")
MONTH_NAMES = [
    *("January", "February", "March", "April", "May", "June"),
    *("July", "August", "September", "October", "November", "December"),
]

REWORD_PROMPT = """You edit executive summaries of sales reports.
Rewrite the summary the user gives you as one short, fluent paragraph for a busy manager.
Keep every number, amount, percentage, month and name exactly as written; add no number and drop none.
Reply with the paragraph only."""


def _month(month: str) -> str:
    """ "2025-03" -> "March 2025"."""
    year, number = month.split("-")
    return f"{MONTH_NAMES[int(number) - 1]} {year}"


def _percent(part: Decimal, whole: Decimal) -> str:
    return f"{(part * 100 / whole).quantize(TENTH, rounding=ROUND_HALF_UP):f}"


def executive_summary(figures: dict[str, Any]) -> str:
    """The summary of a built report's figures (see analysis.Summary.as_result)."""
    currency = figures["currency"].lower()
    totals = figures["totals"]

    def money(text: str) -> str:
        return formatting.money(Decimal(text), currency)

    sentences = []
    period = (
        f"In {_month(totals['first_month'])}"
        if totals["first_month"] == totals["last_month"]
        else f"From {_month(totals['first_month'])} to {_month(totals['last_month'])}"
    )
    units, regions = formatting.count(totals["units"], "unit"), formatting.count(totals["regions"], "region")
    sentences.append(
        f"{period}, revenue was {money(totals['revenue'])} from {units}, "
        f"across {regions} and {formatting.count(totals['skus'], 'SKU')}."
    )
    months = figures["months"]
    if len(months) >= 2:
        first, last = months[0], months[-1]
        start, end = Decimal(first["revenue"]), Decimal(last["revenue"])
        movement = (
            f"Monthly revenue went from {money(first['revenue'])} in {_month(first['month'])} "
            f"to {money(last['revenue'])} in {_month(last['month'])}"
        )
        if start > 0 and end != start:
            change = _percent(abs(end - start), start)
            movement += f", {'up' if end > start else 'down'} {change}%"
        sentences.append(movement + ".")
        # Ties go to the earlier month.
        best = max(months, key=lambda row: (Decimal(row["revenue"]), -months.index(row)))
        worst = min(months, key=lambda row: (Decimal(row["revenue"]), months.index(row)))
        sentences.append(
            f"The best month was {_month(best['month'])} at {money(best['revenue'])}; "
            f"the weakest was {_month(worst['month'])} at {money(worst['revenue'])}."
        )
    top = figures["skus"][:TOP_SKUS_SAID]
    if top:
        revenue = Decimal(totals["revenue"])
        said = [
            f"{row['sku']} ({money(row['revenue'])}"
            + (f", {_percent(Decimal(row['revenue']), revenue)}% of revenue)" if revenue > 0 else ")")
            for row in top
        ]
        label = "The top-selling SKU was" if len(said) == 1 else "The top-selling SKUs were"
        sentences.append(f"{label} {_listed(said)}.")
    flags = figures["flags"]
    if not flags:
        sentences.append("No region is flagged as underperforming.")
    else:
        said = []
        for flag in flags:
            if flag["rule"] == "peers":
                why = f"below its peers: {money(flag['revenue'])} against the median region's"
            else:
                why = f"falling: {money(flag['revenue'])} in the last three months against"
            said.append(f"{flag['region']} ({why} {money(flag['compared_with'])})")
        sentences.append(f"Underperforming: {_listed(said)}.")
    return " ".join(sentences)


def _listed(items: list[str]) -> str:
    if len(items) <= 2:
        return " and ".join(items)
    return ", ".join(items[:-1]) + f" and {items[-1]}"


def endpoint() -> language_model.Endpoint | None:
    base_url = capability_setting("reports", "LLM_BASE_URL")
    if not base_url:
        return None
    return language_model.Endpoint(
        base_url=base_url,
        model=capability_setting("reports", "LLM_MODEL"),
        api_key=capability_setting("reports", "LLM_API_KEY"),
    )


def keeps_the_numbers(rewrite: str, summary: str) -> bool:
    """Whether `rewrite` holds exactly the numbers of `summary`: none changed,
    added or dropped."""
    return language_model.numbers_in(rewrite) == language_model.numbers_in(summary)


def written_summary(figures: dict[str, Any]) -> dict[str, Any]:
    """The summary as the report stores it: {"text", "reworded"}. Reworded by
    the configured model when its rewording keeps exactly the numbers."""
    summary = executive_summary(figures)
    model = endpoint()
    if model is None:
        return {"text": summary, "reworded": False}
    rewrite = language_model.chat(
        model,
        [language_model.Message("system", REWORD_PROMPT), language_model.Message("user", summary)],
        max_tokens=400,
    )
    if rewrite is None or not keeps_the_numbers(rewrite, summary):
        return {"text": summary, "reworded": False}
    return {"text": rewrite, "reworded": True}


def summary_of(figures: dict[str, Any]) -> dict[str, Any]:
    """The stored summary of a report, or, for a report built before summaries
    existed, its deterministic one."""
    stored = figures.get("summary")
    if isinstance(stored, dict) and isinstance(stored.get("text"), str):
        return stored
    return {"text": executive_summary(figures), "reworded": False}
