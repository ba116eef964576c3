"""sparserl.report: an HTML report, figures and a Markdown summary from a sweep's run directories.

python -m sparserl.report DIR [--out OUT]
"""

from sparserl.report.build import ReportError, main, write_report

__all__ = ["ReportError", "main", "write_report"]
