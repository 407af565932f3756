/*
 * qfixture: makes queue states for tests through the real queue API.
 *
 *   qfixture DB enqueue REPO_ID REPO_NAME EVENT ACTION DELIVERY [HOOK_ID [PAYLOAD]]
 *       enqueues one delivery; prints its id (or "duplicate ID")
 *   qfixture DB bulk N REPOS
 *       enqueues N deliveries spread over REPOS repositories (ids 1..REPOS)
 *   qfixture DB dead REPO_ID REASON [AGO_SECONDS]
 *       dead-letters the head of REPO_ID (as if AGO_SECONDS ago); prints its id
 *   qfixture DB retry REPO_ID DELAY_SECONDS ERROR
 *       a failed attempt on the head of REPO_ID: it waits DELAY_SECONDS
 *   qfixture DB lease REPO_ID
 *       leases REPO_ID for an hour and leaves it leased
 *   qfixture DB step REPO_ID STEP CHECK_STATE DESC
 *       records a step on the head of REPO_ID, then gives it back
 *   qfixture DB run REPO_ID CHECK_RUN_ID
 *       records a check run's id on the head of REPO_ID, then gives it back
 *   qfixture DB schema VERSION
 *       overwrites the stored schema version (raw LMDB)
 *   qfixture DB hold
 *       holds an LMDB write transaction open until stdin closes; prints
 *       "holding" once it has it
 *
 * The default payload is a push of REPO_NAME; PAYLOAD replaces it verbatim.
 * Exit status 0, or 1 with a line on stderr.
 */
#include "clock.h"
#include "config.h"
#include "queue.h"

#include <inttypes.h>
#include <lmdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int64_t fake_now;
static int64_t fake_clock(void)
{
    return fake_now;
}

static int die(const char *what, int rc)
{
    fprintf(stderr, "qfixture: %s: %s\n", what, hq_strerror(rc));
    return 1;
}

static uint64_t num(const char *s)
{
    uint64_t v = 0;
    if (hq_parse_uint(s, 0, UINT64_MAX, &v) != 0) {
        fprintf(stderr, "qfixture: not a number: %s\n", s);
        exit(1);
    }
    return v;
}

/* Leases until REPO_ID's head comes up; others are given back untouched. */
static int lease_repo(hq_queue *q, uint64_t repo_id, struct hq_lease *l, struct hq_event **ev)
{
    for (int i = 0; i < 1000; i++) {
        int64_t next;
        int rc = hq_queue_lease(q, "qfixture", 3600 * 1000, l, ev, &next);
        if (rc != 0)
            return rc;
        if (l->repo_id == repo_id)
            return 0;
        hq_event_free(*ev);
        *ev = NULL;
        if ((rc = hq_queue_retry(q, l, 0, false, NULL, HQ_STEP_NEW)) != 0)
            return rc;
    }
    return HQ_ENOTFOUND;
}

static int set_schema(const char *db, uint64_t version)
{
    MDB_env *env;
    MDB_txn *txn;
    MDB_dbi dbi;
    uint8_t v[8];
    for (int i = 0; i < 8; i++)
        v[i] = (uint8_t)(version >> (56 - 8 * i));
    MDB_val key = {14, "schema_version"}, val = {8, v};
    int rc = mdb_env_create(&env);
    if (rc == 0)
        mdb_env_set_maxdbs(env, 16);
    if (rc == 0 && (rc = mdb_env_open(env, db, 0, 0600)) == 0) {
        if ((rc = mdb_txn_begin(env, NULL, 0, &txn)) == 0) {
            if ((rc = mdb_dbi_open(txn, "meta", 0, &dbi)) == 0 &&
                (rc = mdb_put(txn, dbi, &key, &val, 0)) == 0)
                rc = mdb_txn_commit(txn);
            else
                mdb_txn_abort(txn);
        }
    }
    mdb_env_close(env);
    if (rc != 0)
        fprintf(stderr, "qfixture: schema: %s\n", mdb_strerror(rc));
    return rc != 0;
}

static int hold(const char *db)
{
    MDB_env *env;
    MDB_txn *txn;
    int rc = mdb_env_create(&env);
    if (rc == 0)
        mdb_env_set_maxdbs(env, 16);
    if (rc == 0 && (rc = mdb_env_open(env, db, 0, 0600)) == 0 &&
        (rc = mdb_txn_begin(env, NULL, 0, &txn)) == 0) {
        printf("holding\n");
        fflush(stdout);
        char buf[64];
        while (fgets(buf, sizeof(buf), stdin) != NULL) {
        }
        mdb_txn_abort(txn);
    }
    mdb_env_close(env);
    if (rc != 0)
        fprintf(stderr, "qfixture: hold: %s\n", mdb_strerror(rc));
    return rc != 0;
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: qfixture DB COMMAND ARGS... (see the source)\n");
        return 2;
    }
    const char *db = argv[1], *cmd = argv[2];
    if (strcmp(cmd, "schema") == 0 && argc == 4)
        return set_schema(db, num(argv[3]));
    if (strcmp(cmd, "hold") == 0)
        return hold(db);

    struct hq_queue_opts o;
    hq_queue_opts_default(&o);
    o.db = db;
    o.lmdb.map_size = 64 << 20;
    o.no_sync = true; /* test data: speed over durability */
    o.max_attempts = 0;
    hq_queue *q;
    int rc = hq_queue_open(&o, &q);
    if (rc != 0)
        return die("open", rc);
    struct hq_lease l;
    struct hq_event *ev = NULL;
    int status = 0;
    if (strcmp(cmd, "enqueue") == 0 && argc >= 8 && argc <= 10) {
        char payload[4096];
        const char *p = argc == 10 ? argv[9] : payload;
        int n = snprintf(payload, sizeof(payload),
                         "{\"ref\":\"refs/heads/main\",\"before\":\"%040d\",\"after\":"
                         "\"%s%s\",\"pusher\":{\"name\":\"octocat\"},\"commits\":[{}],"
                         "\"head_commit\":{\"message\":\"Fix the thing\\n\\nLonger text\"},"
                         "\"sender\":{\"login\":\"octocat\"},\"repository\":{\"id\":%s,"
                         "\"full_name\":\"%s\"}}",
                         0, "c0ffee00c0ffee00c0ffee00c0ffee00", "c0ffee00", argv[3], argv[4]);
        if (n < 0 || (size_t)n >= sizeof(payload))
            return die("payload", HQ_ETOOBIG);
        struct hq_enqueue it = {0};
        it.hook_id = argc >= 9 ? num(argv[8]) : 0;
        it.delivery = argv[7];
        it.event = argv[5];
        it.action = argv[6];
        it.repo_id = num(argv[3]);
        it.repo_name = argv[4];
        it.installation_id = 42;
        it.payload = p;
        it.payload_len = strlen(p);
        if ((rc = hq_queue_enqueue(q, &it, 1)) != 0 ||
            (it.result != 0 && it.result != HQ_EDUPLICATE))
            status = die("enqueue", rc ? rc : it.result);
        else
            printf("%s%" PRIu64 "\n", it.result ? "duplicate " : "", it.id);
    } else if (strcmp(cmd, "bulk") == 0 && argc == 5) {
        uint64_t n = num(argv[3]), repos = num(argv[4]);
        struct hq_enqueue items[256];
        char names[256][32], deliveries[256][32];
        for (uint64_t done = 0; status == 0 && done < n;) {
            size_t k = 0;
            for (; k < 256 && done < n; k++, done++) {
                memset(&items[k], 0, sizeof(items[k]));
                items[k].repo_id = done % (repos ? repos : 1) + 1;
                snprintf(names[k], sizeof(names[k]), "bulk/r%" PRIu64, items[k].repo_id);
                snprintf(deliveries[k], sizeof(deliveries[k]), "bulk-%" PRIu64, done);
                items[k].repo_name = names[k];
                items[k].delivery = deliveries[k];
                items[k].event = "push";
                items[k].payload = "{}";
                items[k].payload_len = 2;
            }
            if ((rc = hq_queue_enqueue(q, items, k)) != 0)
                status = die("bulk", rc);
        }
    } else if (strcmp(cmd, "dead") == 0 && (argc == 5 || argc == 6)) {
        if ((rc = lease_repo(q, num(argv[3]), &l, &ev)) != 0) {
            status = die("lease", rc);
        } else {
            if (argc == 6) {
                fake_now = hq_now_ms() - (int64_t)num(argv[5]) * 1000;
                hq_clock_set_hook(fake_clock);
            }
            if ((rc = hq_queue_dead_letter(q, &l, argv[4])) != 0)
                status = die("dead_letter", rc);
            else
                printf("%" PRIu64 "\n", ev->id);
            hq_clock_set_hook(NULL);
        }
    } else if (strcmp(cmd, "retry") == 0 && argc == 6) {
        if ((rc = lease_repo(q, num(argv[3]), &l, &ev)) != 0)
            status = die("lease", rc);
        else if ((rc = hq_queue_retry(q, &l, hq_now_ms() + (int64_t)num(argv[4]) * 1000, true,
                                      argv[5], HQ_STEP_NEW)) != 0)
            status = die("retry", rc);
    } else if (strcmp(cmd, "lease") == 0 && argc == 4) {
        if ((rc = lease_repo(q, num(argv[3]), &l, &ev)) != 0)
            status = die("lease", rc);
    } else if (strcmp(cmd, "step") == 0 && argc == 7) {
        if ((rc = lease_repo(q, num(argv[3]), &l, &ev)) != 0)
            status = die("lease", rc);
        else if ((rc = hq_queue_record_step(q, &l, (enum hq_step)num(argv[4]),
                                            (enum hq_check_state)num(argv[5]), argv[6])) != 0 ||
                 (rc = hq_queue_retry(q, &l, 0, false, NULL, HQ_STEP_NEW)) != 0)
            status = die("step", rc);
    } else if (strcmp(cmd, "run") == 0 && argc == 5) {
        if ((rc = lease_repo(q, num(argv[3]), &l, &ev)) != 0)
            status = die("lease", rc);
        else if ((rc = hq_queue_record_check_run(q, &l, num(argv[4]))) != 0 ||
                 (rc = hq_queue_retry(q, &l, 0, false, NULL, HQ_STEP_NEW)) != 0)
            status = die("run", rc);
    } else {
        fprintf(stderr, "qfixture: bad command or arguments: %s\n", cmd);
        status = 2;
    }
    hq_event_free(ev);
    hq_queue_close(q);
    return status;
}
