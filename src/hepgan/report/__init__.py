"""Reports physicists can put in a talk: one self-contained HTML page plus metrics.json."""

from hepgan.report.report import DEFAULT_THRESHOLDS, report

__all__ = ["DEFAULT_THRESHOLDS", "report"]
