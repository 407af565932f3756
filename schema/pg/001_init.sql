-- hookq's PostgreSQL queue, schema version 1 (schema/design.md, "PostgreSQL").
-- Applied by the first process that opens an empty database, inside one
-- transaction holding the schema advisory lock (common/queue_pg.c); later
-- changes are 002_*.sql, 003_*.sql, ... applied in order the same way.
-- Times are milliseconds since the epoch (bigint), ids are the C side's
-- uint64 values stored in bigint.

CREATE TABLE hq_schema (
    version integer PRIMARY KEY,
    applied_at timestamptz NOT NULL DEFAULT now()
);

-- Counters (enqueued_total, ...) and figures (queued, repositories, dead),
-- spread over 16 shards per name so that
-- concurrent commits from many processes do not queue on one row lock; a
-- read sums the shards.
CREATE TABLE hq_counter (
    name text NOT NULL,
    shard integer NOT NULL,
    value bigint NOT NULL DEFAULT 0,
    PRIMARY KEY (name, shard)
) WITH (fillfactor = 50);

-- Event ids (queued events and dead letters share them) and lease tokens.
CREATE SEQUENCE hq_event_id_seq;
CREATE SEQUENCE hq_lease_token_seq;

-- One row per repository ever seen: its place in the ready line, its lease
-- and its FIFO position counter. Every write to a repository's events runs
-- under this row's lock (SELECT ... FOR UPDATE, repositories of a batch
-- locked in repo_id order so that two batches never deadlock), which is what
-- makes next_pos, and so the FIFO order, commit order.
--   ready_at: in the ready line from this time on (the ready-since key of
--             design §2: max(now, head's not_before) when it joined); NULL
--             when leased or empty.
--   lease_*:  the current lease; all NULL when not leased.
-- The row is updated on every lease, renew and completion: fillfactor 50
-- leaves room on the page for the new version, and aggressive autovacuum
-- (1% of the rows or 200 dead versions, no cost delay) keeps the table and
-- its two partial indexes from bloating under a steady stream of leases.
CREATE TABLE hq_repo (
    repo_id bigint PRIMARY KEY,
    next_pos bigint NOT NULL DEFAULT 1,
    count bigint NOT NULL DEFAULT 0,
    ready_at bigint,
    lease_owner text,
    lease_token bigint,
    lease_expires bigint
) WITH (fillfactor = 50,
        autovacuum_vacuum_scale_factor = 0.01,
        autovacuum_vacuum_threshold = 200,
        autovacuum_vacuum_cost_delay = 0,
        autovacuum_analyze_scale_factor = 0.02);

-- The ready line: leasing is one probe of this partial index in ready-since
-- order (FOR UPDATE SKIP LOCKED, so a repository being written to or leased
-- by another worker is stepped over, never waited for).
CREATE INDEX hq_repo_ready ON hq_repo (ready_at, repo_id) WHERE ready_at IS NOT NULL;
-- Expired leases are found by expiry, never by a scan.
CREATE INDEX hq_repo_lease ON hq_repo (lease_expires) WHERE lease_expires IS NOT NULL;

-- Queued events. Rows are inserted at enqueue and deleted when done or
-- dead-lettered, never updated: the columns hold the event as it arrived.
-- What changes while it is the head (attempts, step, check result, check
-- run, history, not_before) lives in hq_head. So the big rows (payload) never
-- leave dead versions behind, and autovacuum only has to follow deletes.
CREATE TABLE hq_event (
    id bigint PRIMARY KEY,
    repo_id bigint NOT NULL,
    pos bigint NOT NULL,
    hook_id bigint NOT NULL,
    installation_id bigint NOT NULL,
    received_at bigint NOT NULL,
    not_before bigint NOT NULL DEFAULT 0,
    attempts integer NOT NULL DEFAULT 0,
    step integer NOT NULL DEFAULT 0,
    check_state integer NOT NULL DEFAULT 0,
    check_run_id bigint NOT NULL DEFAULT 0,
    repo_name text NOT NULL,
    delivery text NOT NULL,
    event text NOT NULL,
    action text NOT NULL,
    check_desc text NOT NULL DEFAULT '',
    history text NOT NULL DEFAULT '',
    payload bytea NOT NULL,
    UNIQUE (repo_id, pos)
) WITH (autovacuum_vacuum_scale_factor = 0.02,
        autovacuum_vacuum_insert_scale_factor = 0.05,
        autovacuum_vacuum_cost_delay = 0);

-- The mutable state of a repository's head event, once anything about it
-- changed (an event that never fails never gets a row). Small rows updated
-- in place: fillfactor 50 lets those updates be HOT (no indexed column
-- changes), and the row goes when the event leaves the queue.
CREATE TABLE hq_head (
    event_id bigint PRIMARY KEY,
    not_before bigint NOT NULL,
    attempts integer NOT NULL,
    step integer NOT NULL,
    check_state integer NOT NULL,
    check_run_id bigint NOT NULL,
    check_desc text NOT NULL,
    history text NOT NULL
) WITH (fillfactor = 50,
        autovacuum_vacuum_scale_factor = 0.01,
        autovacuum_vacuum_threshold = 200,
        autovacuum_vacuum_cost_delay = 0);

-- Dead letters, with the envelope as it was when it died.
CREATE TABLE hq_dead (
    id bigint PRIMARY KEY,
    repo_id bigint NOT NULL,
    hook_id bigint NOT NULL,
    installation_id bigint NOT NULL,
    received_at bigint NOT NULL,
    not_before bigint NOT NULL,
    attempts integer NOT NULL,
    step integer NOT NULL,
    check_state integer NOT NULL,
    check_run_id bigint NOT NULL,
    repo_name text NOT NULL,
    delivery text NOT NULL,
    event text NOT NULL,
    action text NOT NULL,
    check_desc text NOT NULL,
    history text NOT NULL,
    dead_at bigint NOT NULL,
    reason text NOT NULL,
    payload bytea NOT NULL
);
CREATE INDEX hq_dead_delivery ON hq_dead (hook_id, delivery);

-- The dedup set: (hook id, delivery) first seen at at_ms as event event_id.
-- Pruned past the window in bounded batches (64 per enqueue commit) through
-- the at_ms index. Insert-and-delete only.
CREATE TABLE hq_dedup (
    hook_id bigint NOT NULL,
    delivery text NOT NULL,
    at_ms bigint NOT NULL,
    event_id bigint NOT NULL,
    PRIMARY KEY (hook_id, delivery)
) WITH (autovacuum_vacuum_scale_factor = 0.02,
        autovacuum_vacuum_insert_scale_factor = 0.05);
CREATE INDEX hq_dedup_age ON hq_dedup (at_ms);

-- Named state records (hq_queue_state_get/cas): written by compare-and-set
-- on version in one statement.
CREATE TABLE hq_state (
    name text PRIMARY KEY,
    version bigint NOT NULL,
    position_ms bigint NOT NULL,
    value bigint NOT NULL,
    claim_until_ms bigint NOT NULL,
    claimed_by text NOT NULL
);

-- Payloads (webhook JSON, 8 to 25 KB, stored as received) are compressed by
-- TOAST. lz4 costs a fraction of the CPU of the default pglz: with pglz,
-- compressing payloads was 12% of the server's CPU under the receiver's load
-- (perf, tests/bench/bench_backends.sh), and lz4 raised the receiver's
-- durable deliveries/s by about a sixth. A server without lz4 (built without
-- it, or before PostgreSQL 14) keeps pglz.
DO $$
BEGIN
    EXECUTE 'ALTER TABLE hq_event ALTER COLUMN payload SET COMPRESSION lz4';
    EXECUTE 'ALTER TABLE hq_dead ALTER COLUMN payload SET COMPRESSION lz4';
EXCEPTION WHEN feature_not_supported OR syntax_error THEN
    NULL;
END
$$;
