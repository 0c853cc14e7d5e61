-- pmr-hub schema on PostgreSQL, version 2: what replicas of one database
-- share besides the data. UNLOGGED: live state only, rebuilt within a
-- second by the replicas after a database crash, so it costs no WAL.

-- Every replica, and when it last said it was alive.
CREATE UNLOGGED TABLE cluster_replicas (
    id TEXT PRIMARY KEY,
    address TEXT NOT NULL,
    started_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    seen_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
-- Once-only work: one holder per name until `expires_at`, renewed while
-- it lives; another replica takes a lease that expired.
CREATE UNLOGGED TABLE cluster_leases (
    name TEXT PRIMARY KEY,
    holder TEXT NOT NULL,
    expires_at TIMESTAMPTZ NOT NULL
);
-- Each connected agent's live view, published by the replica that holds
-- its session; `rev` orders the updates every replica reads on from.
-- Writers of this table and of `cluster_messages` take one advisory lock
-- for their statement, so ids and revs commit in order and a reader's
-- one mark never skips a row.
CREATE SEQUENCE cluster_rev;
CREATE UNLOGGED TABLE cluster_views (
    server_id BIGINT PRIMARY KEY,
    replica TEXT NOT NULL,
    online BOOLEAN NOT NULL,
    rev BIGINT NOT NULL,
    view TEXT NOT NULL
);
CREATE INDEX cluster_views_rev ON cluster_views (rev);
-- Messages between replicas (changes for all, actions and their results
-- for one); a NOTIFY on `pmr_cluster` wakes the readers, which read on
-- by id. Kept a minute.
CREATE UNLOGGED TABLE cluster_messages (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    sender TEXT NOT NULL,
    recipient TEXT,
    kind TEXT NOT NULL,
    body TEXT NOT NULL,
    at TIMESTAMPTZ NOT NULL DEFAULT now()
);
