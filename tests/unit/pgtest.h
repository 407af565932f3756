/*
 * pgtest: the private PostgreSQL cluster of the tests (tests/tools/
 * pg_cluster.sh, the ctest fixture "pg") as seen from a C test case.
 * HOOKQ_TEST_PG_DIR names the cluster's directory; its file uri holds the
 * superuser's base URI. Without it a case that needs PostgreSQL skips.
 */
#ifndef HQ_PGTEST_H
#define HQ_PGTEST_H

#include "hqtest.h"

#include <ctype.h>
#include <libpq-fe.h>
#include <stdio.h>
#include <string.h>

/* The cluster's base URI ("postgresql://hookq@127.0.0.1:PORT"), or SKIP. */
static inline const char *pgtest_base(void)
{
    static char base[256];
    if (base[0] != '\0')
        return base;
    const char *dir = getenv("HOOKQ_TEST_PG_DIR");
    if (dir == NULL || dir[0] == '\0')
        SKIP("HOOKQ_TEST_PG_DIR is not set (no PostgreSQL cluster for the tests)");
    char path[512];
    snprintf(path, sizeof(path), "%s/uri", dir);
    FILE *f = fopen(path, "r");
    if (f == NULL)
        SKIP("the PostgreSQL cluster of HOOKQ_TEST_PG_DIR is not running");
    if (fgets(base, sizeof(base), f) == NULL)
        base[0] = '\0';
    fclose(f);
    base[strcspn(base, "\r\n")] = '\0';
    if (base[0] == '\0')
        SKIP("the PostgreSQL cluster of HOOKQ_TEST_PG_DIR has no uri");
    return base;
}

/* Runs one statement as the superuser on database db; 0 or -1. */
static inline int pgtest_exec(const char *db, const char *sql)
{
    char uri[512];
    snprintf(uri, sizeof(uri), "%s/%s", pgtest_base(), db);
    PGconn *c = PQconnectdb(uri);
    int rc = -1;
    if (PQstatus(c) == CONNECTION_OK) {
        PGresult *r = PQexec(c, sql);
        ExecStatusType s = PQresultStatus(r);
        rc = s == PGRES_COMMAND_OK || s == PGRES_TUPLES_OK ? 0 : -1;
        if (rc != 0 && strcmp(PQresultErrorField(r, PG_DIAG_SQLSTATE) ?: "", "42P04") == 0)
            rc = 0; /* already there: another process of the same case made it */
        else if (rc != 0)
            fprintf(stderr, "pgtest: %s: %s", sql, PQerrorMessage(c));
        PQclear(r);
    } else {
        fprintf(stderr, "pgtest: %s", PQerrorMessage(c));
    }
    PQfinish(c);
    return rc;
}

/* The name of the case's own database, from its temporary directory, so
 * that every process of the case (forked children too) names the same one. */
static inline const char *pgtest_case_name(const char *suffix)
{
    static char name[64];
    const char *d = strrchr(hqtest_dir(), '/');
    d = d != NULL ? d + 1 : hqtest_dir();
    size_t n = (size_t)snprintf(name, sizeof(name), "hqt_");
    for (; *d != '\0' && n < 40; d++)
        name[n++] = isalnum((unsigned char)*d) ? (char)tolower((unsigned char)*d) : '_';
    snprintf(name + n, sizeof(name) - n, "%s", suffix);
    return name;
}

/* Creates (if missing) the database name; returns its URI in a static buffer. */
static inline const char *pgtest_database(const char *name)
{
    static char uri[512];
    char sql[128];
    snprintf(sql, sizeof(sql), "CREATE DATABASE %s", name);
    REQUIRE(pgtest_exec("postgres", sql) == 0);
    snprintf(uri, sizeof(uri), "%s/%s", pgtest_base(), name);
    return uri;
}

/* The case's own empty database (the same for every call in the case). */
static inline const char *pgtest_case_db(void)
{
    return pgtest_database(pgtest_case_name(""));
}

#endif
