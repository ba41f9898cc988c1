"""The retrain trigger: alarm events in, at most one pipeline execution at a time out (dedupe,
cooldown, single flight, retries, max staleness, audit). Value types and pure decisions (`gate`),
the events it reads (`events`), its store and ports on AWS (`aws`) and on this machine (`local`).
Standard library only: the trigger function's bundle carries this package."""
