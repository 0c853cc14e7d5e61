"""Schemathesis hooks for pmr-hub's contract test: the run must not delete
the API token it runs with (the hub would rightly answer 401 from then on)."""

import os

import schemathesis

KEEP = os.environ.get("PMR_KEEP_TOKEN_ID", "")


@schemathesis.hook
def filter_path_parameters(ctx, path_parameters):
    op = ctx.operation
    if op.method.upper() == "DELETE" and op.path == "/api/v1/tokens/{id}":
        return str((path_parameters or {}).get("id")) != KEEP
    return True
