"""sparserl.report: figures and tables from run directories."""
