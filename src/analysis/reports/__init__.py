"""Report runner: parameterized notebooks executed with papermill, exported to offline HTML.

Submodules: params (spec, coercion, validation), kernel (which kernelspec), runner (execute and
publish), export (HTML), summary (JSON for alerting), index (reports/index.html), narrative (the written
summary at the top of a report).
"""
