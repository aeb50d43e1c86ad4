"""pytest-diego: Diego's performance requirements as pytest tests with SLOs.

Subpackages, each with one job (data flows one way):

- ``bbs``       the BBS API: protobuf models with Diego's field numbers, and the client
- ``cluster``   the embedded Diego: BBS, auctioneer, cells, route emitter, router, launcher
- ``workload``  what to ask for: Task/LRP builders, app mixes, arrival schedules, shards
- ``measure``   what happened: histograms, timelines, route probes, loop durations
- ``slo``       was it good enough: SLO expressions evaluated over merged measurements
- ``nemesis``   what goes wrong: real faults delivered with signals
- ``report``    showing it: terminal table, results.json, report.html
"""

__version__ = "0.1.0"
