"""Promotion: Studio approval -> shadow on live traffic -> verified promotion -> rollback.

Decisions are pure (`lifecycle`, `shadow`); `controller` applies them through narrow adapters
(a registry, an endpoint, an audit trail) that exist for AWS and for this machine, so the
Lambda functions, the CLI and the local demo run the same code.
"""
