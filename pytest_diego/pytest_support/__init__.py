"""The plugin's machinery, kept out of ``plugin.py`` so that module only wires hooks.

- ``options``       command-line and ini options, read and validated into ``DiegoSettings``
- ``values``        option value parsers that raise usage errors naming the option
- ``target``        which Diego the run talks to: the embedded cluster or a real one (cfdot's env)
- ``overrides``     ``--diego-slo`` / ``--diego-slo-file`` threshold overrides
- ``rundir``        files shared by the controller and xdist workers: barriers, shards, status
- ``scheduler``     the xdist scheduler that sends every scenario to every worker
- ``session``       one run's coordinator: roles, cluster lifetime, scenario hooks, results
- ``scenario``      one scenario in one process: barriers, its shard, the merged verdict
- ``verdicts``      SLOs and the baseline judged on merged measurements
- ``workload_api``  the ``workload`` fixture object: shares, shards, runners, status
- ``handle``        the ``diego`` fixture object and the embedded cluster's start/attach/stop
- ``sampling``      Diego's metrics sampled in the background during a scenario
- ``status``        the live status line
"""
