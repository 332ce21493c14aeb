"""``crawler watch``: keep the archive current, say how current, and be installable.

loop       the schedule: changes cycles every --every, a full walk every --full-every,
           backoff after a failure, SIGTERM/SIGINT, --cycles (tests)
cycle      one cycle: lock (lockwait), client, crawl (changes: its listing), search
           index, verify slice; a CycleReport
changes    the changes cycle's listing: the parent carried, then what moved
verifying  the slice of blobs re-hashed each cycle, oldest-checked first
metrics    the Prometheus registry, filled when a cycle ends; textfile output
listener   /metrics, /healthz, /readyz on their own loopback port (aiohttp)
ping       healthchecks.io-style pings: /start, success, /fail with the summary
options    --every and friends, [watch] in the TOML
"""
