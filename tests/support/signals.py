"""Children that a test interrupts with SIGINT must be able to receive it.

A shell starts a background job with SIGINT ignored (``.ci/run &``), and an ignored signal stays
ignored across fork and exec: the pytest under test would then never see the test's Ctrl-C, and
it rightly leaves an ignored SIGINT alone. Children started with ``preexec_fn=ctrl_c_reaches_it``
get the default disposition back, as a terminal's foreground job has it."""

from __future__ import annotations

import signal


def ctrl_c_reaches_it() -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)
