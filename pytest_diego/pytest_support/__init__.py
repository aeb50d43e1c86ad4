"""The plugin's machinery, kept out of ``plugin.py`` so that module only wires hooks.

- ``options``     command-line and ini options, read and validated into ``DiegoSettings``
- ``target``      which Diego the run talks to: the embedded cluster or a real one
- ``overrides``   ``--diego-slo`` / ``--diego-slo-file`` threshold overrides
- ``rundir``      the run directory shared by the controller and xdist workers: barriers, shards
- ``scheduler``   the xdist scheduler that sends every scenario to every worker
- ``session``     one run's coordinator: cluster lifetime, scenario shards, results
- ``scenario``    what one scenario test sees: measurements, workload, verdicts
- ``handle``      the ``diego`` fixture object
- ``status``      the live status line
"""
