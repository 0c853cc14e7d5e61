-- pmr-hub schema, version 5: alerting survives a restart of the hub.
-- Rule and receiver ids are never reused after a delete (AUTOINCREMENT),
-- so an old id in a log or a script never names a newer rule.
CREATE TABLE alert_rules_new (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    name TEXT NOT NULL UNIQUE,
    spec TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    muted_until BIGINT
);
INSERT INTO alert_rules_new (id, name, spec, created_at, muted_until)
    SELECT id, name, spec, created_at, muted_until FROM alert_rules;
DROP TABLE alert_rules;
ALTER TABLE alert_rules_new RENAME TO alert_rules;
CREATE TABLE receivers_new (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    name TEXT NOT NULL UNIQUE,
    kind TEXT NOT NULL CHECK (kind IN ('webhook', 'slack', 'discord')),
    spec TEXT NOT NULL,
    sealed TEXT NOT NULL,
    host TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
INSERT INTO receivers_new (id, name, kind, spec, sealed, host, created_at)
    SELECT id, name, kind, spec, sealed, host, created_at FROM receivers;
DROP TABLE receivers;
ALTER TABLE receivers_new RENAME TO receivers;
-- The server a firing alert is about, so it is restored with its alert.
ALTER TABLE alerts ADD COLUMN server_id INTEGER;
CREATE INDEX IF NOT EXISTS alerts_open ON alerts (ends_at) WHERE ends_at IS NULL;
-- The notification log (Alertmanager's nflog): per receiver and group,
-- when it was last notified and which alerts that notification carried,
-- so a restarted hub sends an unchanged group only when repeat_interval
-- says so.
CREATE TABLE IF NOT EXISTS alert_notifications (
    receiver_id INTEGER NOT NULL,
    group_key TEXT NOT NULL,
    sent_at BIGINT NOT NULL,
    -- Fingerprints, as JSON arrays.
    firing TEXT NOT NULL,
    resolved TEXT NOT NULL,
    PRIMARY KEY (receiver_id, group_key)
);
