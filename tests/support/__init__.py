"""Helpers shared by the test folders: one piece for each job, so no folder keeps its own copy.

A test in any folder imports them as ``from tests.support.waits import wait_until`` (the root
conftest.py puts the repository root on ``sys.path``, whether pytest runs from the root, with or
without ``-n``, or on one folder alone); fixtures shared the same way are registered as plugins in
the root conftest.py (``postgres``).

- ``waits``          poll a condition with a bound, failing with what was awaited
- ``ports``          a loopback port nothing listens on
- ``stub_server``    a scripted HTTP(S) stand-in (a BBS, an auctioneer, a rep, a router, a
                     metrics endpoint, a Task callback receiver) that records what it was sent
- ``components``     one cluster component run as its own process, waited for through its run
                     file; whether a process is gone; dying with the parent
- ``lager_logs``     the records of a lager log file
- ``certificates``   the certificates ``pytest_diego.tlsutil`` never makes: expired, non-RSA
- ``postgres``       the tests' PostgreSQL server (the ``postgres_server`` fixture, ``running_postgres``)
- ``sample_results`` a realistic results document for the report's tests
"""
