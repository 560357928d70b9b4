"""The camera simulator: realistic `nas.read.v1` reads posted to the read stream the way force
gateways post them. `nas simulate` (the command line), local mode's demo and the benchmarks all
use it; it ships nowhere (it is not in the Lambda layer).

Three parts, each testable alone: `ReadGenerator` (`reads`: pure, cameras and VOI VRMs in, Kinesis
records out), `KinesisSender` (`sending`: PutRecords batching within the service limits, re-sending
entries that come back with an ErrorCode) and `run_paced` (`sending`: spreads the records over the
duration); `sources` reads cameras and hit VRMs from a stage's tables.
"""

from __future__ import annotations

from nas.simulator.reads import (
    BadKind,
    KinesisRecord,
    NoActiveCameras,
    ReadGenerator,
    ReadMix,
    Tally,
    age_identifiers,
    jpeg_image,
    random_vrm,
    rfc3339_millis,
)
from nas.simulator.sending import (
    KinesisSender,
    RecordSink,
    RecordSource,
    RunResult,
    SendResult,
    run_paced,
)
from nas.simulator.sources import scan_cameras, scan_hit_vrms

__all__ = [
    "BadKind",
    "KinesisRecord",
    "KinesisSender",
    "NoActiveCameras",
    "ReadGenerator",
    "ReadMix",
    "RecordSink",
    "RecordSource",
    "RunResult",
    "SendResult",
    "Tally",
    "age_identifiers",
    "jpeg_image",
    "random_vrm",
    "rfc3339_millis",
    "run_paced",
    "scan_cameras",
    "scan_hit_vrms",
]
