"""The C fast path of the Postfix parser. `optional`: without a C compiler the package still installs and
parses every chunk with polars (the same result, slower)."""

from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension(
            "analysis.ingest._fastparse",
            ["src/analysis/ingest/_fastparse.c"],
            extra_compile_args=["-O2", "-std=c11"],
            optional=True,
        )
    ]
)
