-- pmr-hub schema, version 1. Portable SQL: the PostgreSQL backend uses the
-- same statements with BIGSERIAL ids.
CREATE TABLE IF NOT EXISTS meta (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS buckets (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    created_at BIGINT NOT NULL
);
CREATE TABLE IF NOT EXISTS keys (
    id INTEGER PRIMARY KEY,
    bucket_id INTEGER NOT NULL REFERENCES buckets(id),
    public_key TEXT NOT NULL UNIQUE,
    created_at BIGINT NOT NULL,
    revoked_at BIGINT
);
CREATE TABLE IF NOT EXISTS servers (
    id INTEGER PRIMARY KEY,
    bucket_id INTEGER NOT NULL REFERENCES buckets(id),
    machine_id TEXT NOT NULL,
    name TEXT NOT NULL,
    agent_version TEXT NOT NULL,
    first_seen BIGINT NOT NULL,
    last_seen BIGINT NOT NULL,
    UNIQUE (bucket_id, machine_id)
);
CREATE TABLE IF NOT EXISTS events (
    id INTEGER PRIMARY KEY,
    server_id INTEGER NOT NULL REFERENCES servers(id),
    seq BIGINT NOT NULL,
    at BIGINT NOT NULL,
    kind TEXT NOT NULL,
    pm_id INTEGER NOT NULL,
    app TEXT NOT NULL,
    code INTEGER,
    signal TEXT,
    detail TEXT,
    UNIQUE (server_id, seq)
);
CREATE INDEX IF NOT EXISTS events_at ON events (at);
CREATE TABLE IF NOT EXISTS rollups (
    server_id INTEGER NOT NULL REFERENCES servers(id),
    pm_id INTEGER NOT NULL,
    app TEXT NOT NULL,
    span_ms INTEGER NOT NULL,
    start BIGINT NOT NULL,
    cpu_min DOUBLE PRECISION NOT NULL,
    cpu_max DOUBLE PRECISION NOT NULL,
    cpu_avg DOUBLE PRECISION NOT NULL,
    cpu_last DOUBLE PRECISION NOT NULL,
    mem_min DOUBLE PRECISION NOT NULL,
    mem_max DOUBLE PRECISION NOT NULL,
    mem_avg DOUBLE PRECISION NOT NULL,
    mem_last DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (server_id, pm_id, span_ms, start)
);
CREATE INDEX IF NOT EXISTS rollups_span_start ON rollups (span_ms, start);
CREATE TABLE IF NOT EXISTS stream_seq (
    server_id INTEGER NOT NULL REFERENCES servers(id),
    stream TEXT NOT NULL,
    seq BIGINT NOT NULL,
    PRIMARY KEY (server_id, stream)
);
CREATE TABLE IF NOT EXISTS api_tokens (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    token_hash TEXT NOT NULL UNIQUE,
    created_at BIGINT NOT NULL
);
CREATE TABLE IF NOT EXISTS actions (
    id TEXT PRIMARY KEY,
    server_id INTEGER NOT NULL REFERENCES servers(id),
    action TEXT NOT NULL,
    targets TEXT NOT NULL,
    requested_by TEXT NOT NULL,
    requested_at BIGINT NOT NULL,
    finished_at BIGINT,
    ok INTEGER,
    message TEXT
);
