"""NAS runtime package: domain rules, adapters, observability and the API app shared by every Lambda,
local mode and the tests. Shipped to Lambda in the runtime layer."""

__version__ = "0.1.0"
