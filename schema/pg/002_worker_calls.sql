-- hookq's PostgreSQL queue, schema version 2: the worker's hot writes as
-- functions, so that each is one statement, and so one round trip, in a
-- transaction of its own (schema/design.md §7.2). Each does what the C
-- path of common/queue_pg_ops.c did statement by statement before, in the
-- same order and under the same locks: the repository's row first (FOR
-- UPDATE), then its events, then the counters in name order. They run with
-- the caller's rights (SECURITY INVOKER, the default), so a role needs the
-- same grants on the tables as before.
--
-- Why: a completion was seven round trips (BEGIN, the row lock, the head,
-- the delete, the next head, the requeue, the counters with COMMIT), a
-- step five and a lease six, and the pipeline benchmark was CPU-bound with
-- PostgreSQL's processes taking 38% of it, more for waking up to each
-- statement than for the statements. As calls: the pipeline of
-- tests/bench/bench_pipeline2.py (2 workers x 8 threads, 2,000 events)
-- went from 502 to 614 events/s (medians of four alternating runs; LMDB
-- 651 in the same runs).
--
-- An impossible state (a repository counted with no head) raises
-- data_corrupted (XX001), which the C side reports as HQ_ECORRUPT.

-- Leases the repository ready longest to p_owner until p_expires.
-- o_status 0: leased, the row is its head with the payload and o_token the
-- lease's token; 1: nothing is ready, o_next_at is the earliest ready time
-- or lease expiry (NULL: none); 2: an expired lease waits to be reclaimed,
-- which the caller does on its own path (the attempt it counts and the
-- history line it writes are the C side's), nothing was done here.
CREATE FUNCTION hq_lease(p_owner text, p_now bigint, p_expires bigint)
RETURNS TABLE (o_id bigint, o_repo_id bigint, o_hook_id bigint, o_installation_id bigint,
               o_received_at bigint, o_not_before bigint, o_attempts integer, o_step integer,
               o_check_state integer, o_check_run_id bigint, o_repo_name text,
               o_delivery text, o_event text, o_action text, o_check_desc text,
               o_history text, o_dead_at bigint, o_reason text, o_payload bytea,
               o_status integer, o_token bigint, o_next_at bigint)
LANGUAGE plpgsql AS $$
DECLARE
    v_repo bigint;
    v_token bigint;
BEGIN
    PERFORM 1 FROM hq_repo WHERE lease_expires <= p_now ORDER BY lease_expires LIMIT 1;
    IF FOUND THEN
        o_status := 2;
        RETURN NEXT;
        RETURN;
    END IF;
    UPDATE hq_repo SET ready_at = NULL, lease_owner = p_owner,
                       lease_token = nextval('hq_lease_token_seq'), lease_expires = p_expires
        WHERE repo_id = (SELECT repo_id FROM hq_repo WHERE ready_at <= p_now
                         ORDER BY ready_at, repo_id LIMIT 1 FOR UPDATE SKIP LOCKED)
        RETURNING repo_id, lease_token INTO v_repo, v_token;
    IF NOT FOUND THEN
        o_status := 1;
        o_next_at := least(
            (SELECT ready_at FROM hq_repo WHERE ready_at IS NOT NULL ORDER BY ready_at LIMIT 1),
            (SELECT lease_expires FROM hq_repo WHERE lease_expires IS NOT NULL
                 ORDER BY lease_expires LIMIT 1));
        RETURN NEXT;
        RETURN;
    END IF;
    -- The head with its state merged: PG_EV_COLS of queue_pg_int.h, the
    -- payload, then the status columns.
    RETURN QUERY
        SELECT e.id, e.repo_id, e.hook_id, e.installation_id, e.received_at,
               coalesce(h.not_before, e.not_before), coalesce(h.attempts, e.attempts),
               coalesce(h.step, e.step), coalesce(h.check_state, e.check_state),
               coalesce(h.check_run_id, e.check_run_id), e.repo_name, e.delivery, e.event,
               e.action, coalesce(h.check_desc, e.check_desc), coalesce(h.history, e.history),
               0::bigint, ''::text, e.payload, 0, v_token, NULL::bigint
        FROM hq_event e LEFT JOIN hq_head h ON h.event_id = e.id
        WHERE e.repo_id = v_repo ORDER BY e.pos LIMIT 1;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'hookq: repository % is ready but has no event', v_repo
            USING ERRCODE = 'data_corrupted';
    END IF;
END
$$;

-- Records a step of the leased head p_event: p_step (steps only go
-- forward: an earlier one changes nothing), with the check's result when
-- p_checked; or, when p_run is not 0, its check run. False: the lease is
-- lost (the repository's lease is not p_token's, or its head is not
-- p_event), nothing changed. Each function locks the repository's row in
-- the statement that finds its head (FOR UPDATE OF r: only that row).
CREATE FUNCTION hq_step(p_repo bigint, p_token bigint, p_event bigint, p_step integer,
                        p_checked boolean, p_state integer, p_desc text, p_run bigint)
RETURNS boolean
LANGUAGE plpgsql AS $$
DECLARE
    h record;
BEGIN
    -- The row lock, the token and the head in one statement.
    SELECT e.id, coalesce(x.not_before, e.not_before) AS not_before,
           coalesce(x.attempts, e.attempts) AS attempts, coalesce(x.step, e.step) AS step,
           coalesce(x.check_state, e.check_state) AS check_state,
           coalesce(x.check_run_id, e.check_run_id) AS check_run_id,
           coalesce(x.check_desc, e.check_desc) AS check_desc,
           coalesce(x.history, e.history) AS history
        INTO h
        FROM hq_repo r JOIN hq_event e ON e.repo_id = r.repo_id
             LEFT JOIN hq_head x ON x.event_id = e.id
        WHERE r.repo_id = p_repo AND r.lease_token = p_token
        ORDER BY e.pos LIMIT 1 FOR UPDATE OF r;
    IF NOT FOUND OR h.id <> p_event THEN
        RETURN false;
    END IF;
    IF p_run <> 0 THEN
        h.check_run_id := p_run;
    ELSIF p_step < h.step THEN
        RETURN true;
    ELSE
        h.step := p_step;
        IF p_checked THEN
            h.check_state := p_state;
            h.check_desc := p_desc;
        END IF;
    END IF;
    INSERT INTO hq_head (event_id, not_before, attempts, step, check_state, check_run_id,
                         check_desc, history)
        VALUES (p_event, h.not_before, h.attempts, h.step, h.check_state, h.check_run_id,
                h.check_desc, h.history)
        ON CONFLICT (event_id) DO UPDATE SET not_before = excluded.not_before,
            attempts = excluded.attempts, step = excluded.step,
            check_state = excluded.check_state, check_run_id = excluded.check_run_id,
            check_desc = excluded.check_desc, history = excluded.history;
    RETURN true;
END
$$;

-- Completes the leased head p_event at p_now: it leaves the queue and the
-- repository goes to the back of the ready line with its next event, or
-- leaves it. -1: the lease is lost, nothing changed; 0: done, the
-- repository is empty; 1: done, and it has more (NOTIFY p_channel).
-- The counters come last, so their rows stay locked for the commit only;
-- their shard is the session's (its process id modulo 16, as the C side's
-- pg_counter_shard), so that two sessions never wait for each other there.
CREATE FUNCTION hq_complete(p_repo bigint, p_token bigint, p_event bigint, p_now bigint,
                            p_channel text)
RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
    v_count bigint;
    v_head bigint;
    v_next bigint;
    v_shard integer := pg_backend_pid() % 16;
BEGIN
    SELECT r.count, e.id INTO v_count, v_head
        FROM hq_repo r JOIN hq_event e ON e.repo_id = r.repo_id
        WHERE r.repo_id = p_repo AND r.lease_token = p_token
        ORDER BY e.pos LIMIT 1 FOR UPDATE OF r;
    IF NOT FOUND OR v_head <> p_event THEN
        RETURN -1;
    END IF;
    WITH x AS (DELETE FROM hq_head WHERE event_id = p_event)
        DELETE FROM hq_event WHERE id = p_event;
    v_count := v_count - 1;
    UPDATE hq_repo SET count = v_count, lease_owner = NULL, lease_token = NULL,
                       lease_expires = NULL,
                       ready_at = CASE WHEN v_count > 0 THEN
                           (SELECT greatest(coalesce(x.not_before, e.not_before), p_now)
                            FROM hq_event e LEFT JOIN hq_head x ON x.event_id = e.id
                            WHERE e.repo_id = p_repo ORDER BY e.pos LIMIT 1) END
        WHERE repo_id = p_repo RETURNING ready_at INTO v_next;
    IF v_count > 0 AND v_next IS NULL THEN
        RAISE EXCEPTION 'hookq: repository % counts % events but has none', p_repo, v_count
            USING ERRCODE = 'data_corrupted';
    END IF;
    IF v_count > 0 THEN
        PERFORM pg_notify(p_channel, '');
    END IF;
    -- repositories only when this one left the queue
    INSERT INTO hq_counter (name, shard, value)
        SELECT c.name, v_shard, c.value
        FROM (VALUES ('done_total', 1), ('queued', -1), ('repositories', -1)) AS c(name, value)
        WHERE c.name <> 'repositories' OR v_count = 0 ORDER BY c.name
        ON CONFLICT (name, shard) DO UPDATE SET value = hq_counter.value + excluded.value;
    RETURN CASE WHEN v_count > 0 THEN 1 ELSE 0 END;
END
$$;
