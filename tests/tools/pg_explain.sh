#!/bin/sh
# pg_explain.sh URI: the plans of the PostgreSQL queue's hot statements on a
# large queue (issue 8: "every hot operation is an index probe"). Applies
# schema/pg/*.sql in order to the empty database URI, fills it with 100,000
# repositories and 1,000,000 events (10 per repository; a tenth of the
# repositories leased, their heads with state rows, a tenth waiting for a
# backoff; 1,000,000 dedup pairs),
# analyzes, and prints EXPLAIN of each statement the lease, completion,
# enqueue and prune paths run. Not part of the test suite (it takes a minute
# and a few hundred MB); schema/design.md §7.6 shows its output.
set -eu
uri=${1:?usage: pg_explain.sh URI}
here=$(cd "$(dirname "$0")/../.." && pwd)
psql="psql -X -q -v ON_ERROR_STOP=1 -d $uri"
for f in "$here"/schema/pg/[0-9][0-9][0-9]_*.sql; do
    $psql -f "$f"
done
$psql <<'SQL'
SET synchronous_commit = off;
INSERT INTO hq_repo (repo_id, next_pos, count, ready_at, lease_owner, lease_token, lease_expires)
SELECT r, 11, 10,
       CASE WHEN r % 10 = 0 THEN NULL WHEN r % 10 = 1 THEN 1700000900000 + r ELSE 1700000000000 + r END,
       CASE WHEN r % 10 = 0 THEN 'w' END, CASE WHEN r % 10 = 0 THEN r END,
       CASE WHEN r % 10 = 0 THEN 1700000600000 + r END
FROM generate_series(1, 100000) r;
INSERT INTO hq_event (id, repo_id, pos, hook_id, installation_id, received_at, repo_name, delivery,
                      event, action, payload)
SELECT i, (i - 1) % 100000 + 1, (i - 1) / 100000 + 1, 1, 7, 1700000000000 + i,
       'o/r' || ((i - 1) % 100000 + 1), 'd-' || i, 'push', '', '\x7b7d'
FROM generate_series(1, 1000000) i;
INSERT INTO hq_dedup (hook_id, delivery, at_ms, event_id)
SELECT 1, 'd-' || i, 1700000000000 + i, i FROM generate_series(1, 1000000) i;
-- The leased heads have failed once: 10,000 rows of head state.
INSERT INTO hq_head (event_id, not_before, attempts, step, check_state, check_run_id, check_desc,
                     history)
SELECT id, 0, 1, 1, 0, 0, '', '[]' FROM hq_event WHERE pos = 1 AND repo_id % 10 = 0;
SELECT setval('hq_event_id_seq', 1000000);
VACUUM ANALYZE;
SQL
$psql <<'SQL'
\echo '-- lease: the ready line (one probe)'
EXPLAIN (COSTS OFF) SELECT repo_id FROM hq_repo WHERE ready_at <= 1700000500000
  ORDER BY ready_at, repo_id LIMIT 1 FOR UPDATE SKIP LOCKED;
\echo '-- lease: expired leases'
EXPLAIN (COSTS OFF) SELECT repo_id FROM hq_repo WHERE lease_expires <= 1700000700000
  ORDER BY lease_expires LIMIT 1 FOR UPDATE SKIP LOCKED;
\echo '-- lease: nothing ready, the next time'
EXPLAIN (COSTS OFF) SELECT ready_at FROM hq_repo WHERE ready_at IS NOT NULL ORDER BY ready_at LIMIT 1;
\echo '-- head of a repository (lease, every fenced write)'
EXPLAIN (COSTS OFF) SELECT e.id, coalesce(h.attempts, e.attempts), coalesce(h.history, e.history)
  FROM hq_event e LEFT JOIN hq_head h ON h.event_id = e.id
  WHERE e.repo_id = 4242 ORDER BY e.pos LIMIT 1;
\echo '-- the repository row lock'
EXPLAIN (COSTS OFF) SELECT count FROM hq_repo WHERE repo_id = 4242 FOR UPDATE;
\echo '-- hq_lease: the ready line probe and the lease, one statement'
EXPLAIN (COSTS OFF) UPDATE hq_repo SET ready_at = NULL, lease_owner = 'w',
    lease_token = nextval('hq_lease_token_seq'), lease_expires = 1700000900000
  WHERE repo_id = (SELECT repo_id FROM hq_repo WHERE ready_at <= 1700000500000
                   ORDER BY ready_at, repo_id LIMIT 1 FOR UPDATE SKIP LOCKED)
  RETURNING repo_id, lease_token;
\echo '-- hq_step, hq_complete: the row lock, the token and the head, one statement'
EXPLAIN (COSTS OFF) SELECT r.count, e.id FROM hq_repo r JOIN hq_event e ON e.repo_id = r.repo_id
  WHERE r.repo_id = 4240 AND r.lease_token = 4240 ORDER BY e.pos LIMIT 1 FOR UPDATE OF r;
\echo '-- enqueue: dedup lookup'
EXPLAIN (COSTS OFF) SELECT event_id FROM hq_dedup WHERE hook_id = 1 AND delivery = 'd-4242';
\echo '-- dedup prune (bounded batch)'
EXPLAIN (COSTS OFF) DELETE FROM hq_dedup WHERE (hook_id, delivery) IN (SELECT hook_id, delivery
  FROM hq_dedup WHERE at_ms < 1700000000100 ORDER BY at_ms LIMIT 64 FOR UPDATE SKIP LOCKED);
\echo '-- completion: the event leaves'
EXPLAIN (COSTS OFF) DELETE FROM hq_event WHERE id = 4242;
SQL
