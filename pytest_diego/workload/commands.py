"""What a real Diego runs for the work the suites desire: rootfs and commands.

On the embedded cluster the cells simulate every process, so commands are only carried along.
A real Diego runs them on a real rootfs, so the defaults need nothing a bare cflinuxfs4 lacks:

- ``READY_APP_COMMAND``: an app in cflinuxfs4's Perl that answers ``GET /`` on ``$PORT`` with
  ``{"instance_guid": "<INSTANCE_GUID>"}`` (Diego sets both variables in every container), which
  is how the burst checks that every instance answers through the router;
- ``CRASH_COMMAND``: for the stress mix's crashing apps, exits at a random time between the
  app's ``MIN_SECONDS_TIL_CRASH`` and ``MAX_SECONDS_TIL_CRASH``, as Diego's stress app does and
  as the embedded cells simulate;
- Tasks keep fezzik's ``echo <task_guid> > /tmp/output``.
"""

from __future__ import annotations

from dataclasses import dataclass

ROOTFS = "preloaded:cflinuxfs4"
READY_APP_COMMAND = (
    "exec perl -MIO::Socket::INET -e '$s=IO::Socket::INET->new(LocalPort=>$ENV{PORT},Listen=>128,"
    "ReuseAddr=>1) or die $!; $b=qq({\"instance_guid\":\"$ENV{INSTANCE_GUID}\"}); while($c=$s->accept)"
    "{while(<$c>){last if /^\\r?$/} print $c \"HTTP/1.1 200 OK\\r\\nContent-Type: application/json"
    "\\r\\nContent-Length: \".length($b).\"\\r\\nConnection: close\\r\\n\\r\\n$b\"; close $c}'")
CRASH_COMMAND = ("sleep $((MIN_SECONDS_TIL_CRASH + $(od -An -N2 -tu2 /dev/urandom) % "
                 "(MAX_SECONDS_TIL_CRASH - MIN_SECONDS_TIL_CRASH + 1))); exit 1")


@dataclass(frozen=True)
class Work:
    """The rootfs and commands of the work desired on a target."""

    rootfs: str = ROOTFS
    lrp_command: str = READY_APP_COMMAND
    crash_command: str = CRASH_COMMAND
    task_command: str | None = None  # "{task_guid}" is replaced; None keeps fezzik's
