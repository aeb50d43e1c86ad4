"""The plugin's machinery, kept out of ``plugin.py`` so that module only wires roles and hooks.

Roles (one class each, like pytest-xdist's controller and worker):

- ``owner``         the run's owner (single process): the cluster, judging, results, the table
- ``controller``    xdist's controller as the owner: workers' channels, fan-out, dead workers
- ``runner``        the processes that run scenarios: barriers, shards, the fixtures' objects

What they use:

- ``coordination``  the hub the owner keeps and the coordinators scenario processes talk through
- ``judgement``     a scenario's shards merged and judged once
- ``embedded``      the embedded cluster: started by the owner, reached by every process
- ``diego``         the ``diego`` fixture: ``EmbeddedDiego`` / ``ExternalDiego``
- ``sources``       a real Diego's routes and metrics sources
- ``target``        which Diego the run talks to (cfdot's environment too), and its timing
- ``options``       command-line and ini options, read and validated into ``DiegoSettings``
- ``values``        option value parsers that raise usage errors naming the option
- ``overrides``     ``--diego-slo`` / ``--diego-slo-file`` threshold overrides
- ``scheduler``     the xdist scheduler that sends every scenario to every worker
- ``workload_api``  the ``workload`` fixture object: shares, shards, runners, barriers, status
- ``sampling``      Diego's metrics sampled in the background during a scenario
- ``status``        the live status line
"""
