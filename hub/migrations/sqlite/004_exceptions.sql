-- pmr-hub schema, version 4: exceptions of apps, grouped by app, message
-- (digits folded) and top frame, with where and when they were seen.
CREATE TABLE IF NOT EXISTS exception_groups (
    key TEXT PRIMARY KEY,
    app TEXT NOT NULL,
    message TEXT NOT NULL,
    frame TEXT NOT NULL,
    count INTEGER NOT NULL,
    first_seen BIGINT NOT NULL,
    last_seen BIGINT NOT NULL,
    -- JSON arrays, at most 50 entries each.
    servers TEXT NOT NULL,
    buckets TEXT NOT NULL,
    revisions TEXT NOT NULL,
    -- The latest occurrence's message, stack and error lines.
    sample TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS exception_groups_last ON exception_groups (last_seen);
