"""pytest glue for pytest-diego: options, markers, fixtures and xdist hooks (being built)."""
