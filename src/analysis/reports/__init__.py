"""Report runner: parameterized notebooks executed with papermill, exported to offline HTML.

Submodules: params (spec, coercion, validation), kernel (which kernelspec), runner (execute and
publish), export (HTML), summary (JSON for alerting), index (reports/index.html), narrative (the written
summary at the top of a report).
"""

import sys

# nbformat → jsonschema imports rfc3987_syntax when present, which compiles a Lark grammar at import time
# (1–1.5 s, a third of the runner's start-up) for an "iri" format check no notebook schema uses. jsonschema
# guards that import with `suppress(ImportError)`, so blocking it only drops the unused checker.
sys.modules.setdefault("rfc3987_syntax", None)  # type: ignore[arg-type]
