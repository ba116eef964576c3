"""`python -m sparserl.report DIR`: write the report of a sweep."""

from sparserl.report.build import main

raise SystemExit(main())
