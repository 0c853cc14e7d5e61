-- pmr-hub schema, version 3: alert rules, receivers (their URL and signing
-- secret sealed with the hub's key file, never in the clear), the alerts
-- that fired (history) and every delivery attempt.
CREATE TABLE IF NOT EXISTS alert_rules (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    -- The rule as JSON (kind, scope, duration, severity, labels, annotations).
    spec TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    muted_until BIGINT
);
CREATE TABLE IF NOT EXISTS receivers (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    kind TEXT NOT NULL CHECK (kind IN ('webhook', 'slack', 'discord')),
    -- Grouping and timing as JSON; no secret in it.
    spec TEXT NOT NULL,
    -- Nonce and AEAD ciphertext of the URL and signing secret, hex.
    sealed TEXT NOT NULL,
    -- Where it posts, without path or query (which may hold a token).
    host TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE TABLE IF NOT EXISTS alerts (
    id INTEGER PRIMARY KEY,
    fingerprint TEXT NOT NULL,
    rule TEXT NOT NULL,
    labels TEXT NOT NULL,
    annotations TEXT NOT NULL,
    starts_at BIGINT NOT NULL,
    ends_at BIGINT,
    UNIQUE (fingerprint, starts_at)
);
CREATE INDEX IF NOT EXISTS alerts_starts ON alerts (starts_at);
CREATE TABLE IF NOT EXISTS deliveries (
    id INTEGER PRIMARY KEY,
    receiver_id INTEGER NOT NULL,
    group_key TEXT NOT NULL,
    alerts INTEGER NOT NULL,
    attempt INTEGER NOT NULL,
    outcome TEXT NOT NULL,
    http_status INTEGER,
    latency_ms INTEGER NOT NULL,
    error TEXT,
    at BIGINT NOT NULL
);
CREATE INDEX IF NOT EXISTS deliveries_at ON deliveries (at);
