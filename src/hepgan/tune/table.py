"""Results tables from a study's storage: one row per trial (Markdown + CSV + a plot across
trials), and, for a study of configs x seeds, mean +- spread of every metric per config.

The spread is the sample standard deviation (n - 1 in the denominator) over the random seeds that
completed; a config with one completed seed shows its value alone.
"""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path

import numpy as np

from hepgan.data.files import atomic_output


def trial_records(study) -> list[dict]:
    """Every trial of ``study`` as a plain dict (what the tables show)."""
    rows = []
    for t in study.get_trials(deepcopy=False):
        attrs = t.user_attrs
        wall = attrs.get("wall_s")
        if wall is None and t.datetime_start is not None and t.datetime_complete is not None:
            wall = (t.datetime_complete - t.datetime_start).total_seconds()
        params = dict(t.params)
        if "config" in attrs:
            params = {"config": attrs["config"], "seed": attrs.get("seed"), **params}
        rows.append({
            "trial": t.number, "state": t.state.name, "objective": t.value, "params": params,
            "metrics": dict(attrs.get("metrics") or {}), "wall_s": wall, "steps": attrs.get("steps"),
            "run_dir": attrs.get("run_dir", ""), "worker": attrs.get("worker", ""),
            "note": attrs.get("error") or attrs.get("note") or "",
        })
    return rows


def format_value(value) -> str:
    """A table cell as text: 4 significant digits, JSON for lists and mappings, nothing for None."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, float):
        return "nan" if math.isnan(value) else f"{value:.4g}"
    if isinstance(value, (list, dict)):
        return json.dumps(value)
    return str(value)


def _fmt(value) -> str:
    """A Markdown cell: layout strings hold '|', which would split the cell."""
    return format_value(value).replace("|", "\\|").replace("\n", " ")


def _markdown(header: list[str], rows: list[list]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(_fmt(v) for v in row) + " |" for row in rows]
    return "\n".join(lines) + "\n"


def _csv_value(value):
    if isinstance(value, (list, dict)):
        return json.dumps(value)
    return "" if value is None else value


def _write_text(path: Path, text: str) -> None:
    with atomic_output(path) as tmp:
        tmp.write_text(text)


def _write_csv(path: Path, header: list[str], rows: list[list]) -> None:
    with atomic_output(path) as tmp, open(tmp, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(header)
        writer.writerows([[_csv_value(v) for v in row] for row in rows])


def _column_order(rows: list[dict], key: str) -> list[str]:
    names: dict[str, None] = {}
    for r in rows:
        names.update(dict.fromkeys(r[key]))
    return list(names)


def write_trials_table(rows: list[dict], out_dir: Path, title: str, objective: str | None, direction: str,
                       with_metrics: bool = False, stem: str = "results") -> list[Path]:
    """``STEM.md``, ``STEM.csv`` and ``STEM.png``: trial, state, objective, params, (metrics), wall time."""
    out_dir.mkdir(parents=True, exist_ok=True)
    params = _column_order(rows, "params")
    metrics = _column_order(rows, "metrics") if with_metrics else []
    objective_col = objective or "value (wall_s)"
    if objective_col in metrics:  # the objective (often the best over the run) is not the final metric
        objective_col = f"{objective} (objective)"
    header = ["trial", "state", objective_col, *params, *metrics, "wall_s", "steps", "run_dir", "note"]
    table = [[r["trial"], r["state"], r["objective"], *(r["params"].get(p) for p in params),
              *(r["metrics"].get(m) for m in metrics), r["wall_s"], r["steps"], r["run_dir"], r["note"]] for r in rows]
    done = [r for r in rows if r["state"] == "COMPLETE" and r["objective"] is not None]
    counts = {s: sum(r["state"] == s for r in rows) for s in dict.fromkeys(r["state"] for r in rows)}
    lines = [f"# {title}", "", f"{len(rows)} trials: " + ", ".join(f"{n} {s.lower()}" for s, n in counts.items()) + "."]
    if done and objective:
        pick = min if direction == "minimize" else max
        best = pick(done, key=lambda r: r["objective"])
        shown = ", ".join(f"{k} = {_fmt(v)}" for k, v in best["params"].items())
        lines.append(f"Best: trial {best['trial']}, {objective} = {_fmt(best['objective'])} ({shown}).")
    text = "\n".join(lines) + "\n\n" + _markdown(header, table)
    paths = [out_dir / f"{stem}.md", out_dir / f"{stem}.csv", out_dir / f"{stem}.png"]
    _write_text(paths[0], text)
    _write_csv(paths[1], header, table)
    _plot_trials(rows, objective_col, direction, paths[2])
    return paths


def _plot_trials(rows: list[dict], label: str, direction: str, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import matplotlib.ticker

    fig, ax = plt.subplots(figsize=(6.4, 3.6))
    done = sorted((r["trial"], r["objective"]) for r in rows if r["state"] == "COMPLETE" and r["objective"] is not None)
    if done:
        x, y = np.array(done, dtype=float).T
        ax.plot(x, y, "o", label="complete")
        best = np.minimum.accumulate(y) if direction == "minimize" else np.maximum.accumulate(y)
        ax.step(x, best, where="post", color="k", lw=1, label="best so far")
    for state, marker in (("PRUNED", "x"), ("FAIL", "v")):
        xs = [r["trial"] for r in rows if r["state"] == state]
        if xs:
            ax.plot(xs, [ax.get_ylim()[0]] * len(xs), marker, color="grey", label=state.lower())
    ax.xaxis.set_major_locator(matplotlib.ticker.MaxNLocator(integer=True))
    ax.set_xlabel("trial")
    ax.set_ylabel(label)
    ax.legend(fontsize="small")
    fig.tight_layout()
    with atomic_output(path) as tmp:
        fig.savefig(tmp, format="png", dpi=100)
    plt.close(fig)


def summarise(rows: list[dict], order: list[str] | None = None) -> tuple[list[str], list[dict]]:
    """Per config: the completed seeds, and mean and std of every metric, the objective, wall time and steps."""
    done = [r for r in rows if r["state"] == "COMPLETE"]
    configs = list(dict.fromkeys([*(order or []), *(r["params"].get("config") for r in done)]))
    metrics = [*_column_order(done, "metrics"), "wall_s", "steps"]
    out = []
    for name in configs:
        runs = [r for r in done if r["params"].get("config") == name]
        entry = {"config": name, "n": len(runs), "seeds": [r["params"].get("seed") for r in runs], "values": {}}
        for m in metrics:
            values = np.array([_value(r, m) for r in runs], dtype=float)
            values = values[np.isfinite(values)]
            if values.size:
                std = float(values.std(ddof=1)) if values.size > 1 else None
                entry["values"][m] = (float(values.mean()), std, values.tolist())
        out.append(entry)
    return metrics, out


def _value(row: dict, metric: str):
    if metric in ("wall_s", "steps"):
        return row[metric] if row[metric] is not None else math.nan
    value = row["metrics"].get(metric)
    return math.nan if value is None else value


def write_summary(rows: list[dict], out_dir: Path, title: str, order: list[str] | None = None,
                  stem: str = "summary") -> list[Path]:
    """``STEM.md`` (mean +- std per config), ``STEM.csv`` (mean and std columns) and ``STEM.png``."""
    out_dir.mkdir(parents=True, exist_ok=True)
    metrics, entries = summarise(rows, order)
    header = ["config", "n", "seeds", *metrics]
    md_rows = []
    for e in entries:
        cells = []
        for m in metrics:
            mean, std, _ = e["values"].get(m, (None, None, None))
            cells.append("" if mean is None else _fmt(mean) + ("" if std is None else f" ± {_fmt(std)}"))
        md_rows.append([e["config"], e["n"], ", ".join(str(s) for s in e["seeds"]), *cells])
    note = ("Mean ± sample standard deviation over the completed seeds of each config "
            "(final validation metrics, wall time in seconds, steps).")
    lines = [f"# {title}", "", note, "",
             "| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join([_fmt(r[0]), str(r[1]), r[2], *r[3:]]) + " |" for r in md_rows]
    text = "\n".join(lines) + "\n"
    csv_header = ["config", "n", "seeds"] + [f"{m}_{s}" for m in metrics for s in ("mean", "std")]
    csv_rows = [[e["config"], e["n"], " ".join(str(s) for s in e["seeds"])]
                + [x for m in metrics for x in (e["values"].get(m, (None, None, None))[:2])] for e in entries]
    paths = [out_dir / f"{stem}.md", out_dir / f"{stem}.csv", out_dir / f"{stem}.png"]
    _write_text(paths[0], text)
    _write_csv(paths[1], csv_header, csv_rows)
    _plot_summary(metrics, entries, paths[2])
    return paths


def _plot_summary(metrics: list[str], entries: list[dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    shown = metrics[:12]
    cols = min(3, len(shown))
    nrows = math.ceil(len(shown) / cols)
    fig, axes = plt.subplots(nrows, cols, figsize=(4.2 * cols, 3.0 * nrows), squeeze=False)
    names = [e["config"] for e in entries]
    for ax, m in zip(axes.flat, shown):
        for i, e in enumerate(entries):
            if m not in e["values"]:
                continue
            mean, std, values = e["values"][m]
            ax.plot(np.full(len(values), i) + np.linspace(-0.12, 0.12, len(values)), values, "o", ms=4, alpha=0.6)
            ax.errorbar([i], [mean], yerr=[std or 0.0], fmt="_", color="k", ms=14, capsize=4)
        ax.set_title(m, fontsize="medium")
        ax.set_xticks(range(len(names)))
        ax.set_xlim(-0.5, len(names) - 0.5)
        ax.set_xticklabels(names, rotation=30, ha="right", fontsize="small")
    for ax in list(axes.flat)[len(shown):]:
        ax.axis("off")
    fig.tight_layout()
    with atomic_output(path) as tmp:
        fig.savefig(tmp, format="png", dpi=100)
    plt.close(fig)


__all__ = ["format_value", "summarise", "trial_records", "write_summary", "write_trials_table"]
