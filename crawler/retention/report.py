"""What ``retention plan`` and ``retention apply`` print: a table and totals, or JSON."""

from __future__ import annotations

from typing import Any

from crawler.retention.apply import ApplyResult
from crawler.retention.rules import REASON_TEXT

_NAME = 28


def plan_table(plan: dict[str, Any]) -> str:
    lines = [f"{'verdict':<9} {'kind':<8} {'id':<40} {'name':<{_NAME}} why"]
    for item in plan["items"]:
        lines.append(_row("eligible", item, f"snapshot {item.get('snapshot_id')}"))
    for item in plan["refused"]:
        why = "; ".join(f"{r['code']}: {r['detail']}" for r in item.get("reasons", []))
        lines.append(_row("refused", item, why))
    return "\n".join(lines)


def _row(verdict: str, item: dict[str, Any], why: str) -> str:
    name = str(item.get("name") or "")
    if len(name) > _NAME:
        name = name[: _NAME - 1] + "…"
    return f"{verdict:<9} {item['kind']:<8} {item['id']:<40} {name:<{_NAME}} {why}"


def plan_totals(plan: dict[str, Any], out: str | None) -> str:
    t = plan["totals"]
    lines = [
        f"plan {plan['plan_sha256']}: {t['selected']} selected, {t['eligible']} eligible "
        f"({t['eligible_projects']} projects, {t['eligible_documents']} documents), "
        f"{t['refused']} refused; feed: {plan['feed']}"
    ]
    for code, n in t["by_reason"].items():
        lines.append(f"  refused {n:>5}  {code}: {REASON_TEXT.get(code, code)}")
    if out:
        lines.append(f"written to {out}; nothing was deleted. Apply it with:")
        lines.append(f"  crawler retention apply --plan {out} --yes --max-deletes N")
    else:
        lines.append("nothing was deleted; no plan file written (pass --out FILE to apply it)")
    return "\n".join(lines)


def apply_totals(result: ApplyResult, plan_sha256: str) -> str:
    parts = [f"{n} {k}" for k, n in sorted(result.outcomes.items())] or ["nothing done"]
    text = (
        f"apply {plan_sha256[:16]}: {', '.join(parts)}; {result.deletes_sent} DELETEs sent, "
        f"{result.skipped} already done by an earlier run"
    )
    if result.left:
        text += f"; {result.left} items left (--max-deletes reached): rerun to continue"
    return text
