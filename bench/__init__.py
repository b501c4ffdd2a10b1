"""haixun benchmarks: ``python -m bench`` (or ``haixun bench``) -> docs/performance.md."""
