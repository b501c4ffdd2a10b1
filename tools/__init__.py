"""Developer tools that are not part of the installed package (``python -m tools.<name>`` from the
repository root): generators of the data files that ``haixun`` ships."""
