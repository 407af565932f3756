/* test_log: secrets never reach a log line; lines are well-formed JSON. */
#include "hqtest.h"
#include "log.h"

#include <cjson/cJSON.h>
#include <fcntl.h>

/* Captures what hq_logf writes to stderr into buf. */
static void capture(char *buf, size_t cap, void (*fn)(void))
{
    char path[512];
    snprintf(path, sizeof(path), "%s/log", hqtest_dir());
    int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
    REQUIRE(fd >= 0);
    int saved = dup(STDERR_FILENO);
    dup2(fd, STDERR_FILENO);
    fn();
    dup2(saved, STDERR_FILENO);
    close(saved);
    lseek(fd, 0, SEEK_SET);
    ssize_t n = read(fd, buf, cap - 1);
    buf[n > 0 ? n : 0] = '\0';
    close(fd);
}

static void emit_secrets(void)
{
    hq_log_setup("test", true, HQ_LOG_INFO);
    hq_log_secret("It's a Secret to Everybody");
    struct hq_log_ctx ctx = HQ_LOG_CTX_INIT;
    ctx.delivery = "d-\"quoted\"";
    ctx.attempt = 2;
    hq_info("op", &ctx, "secret It's a Secret to Everybody in text");
    hq_info("op", NULL, "token ghs_abcdefghijklmnopqrstuvwxyz0123456789 used");
    hq_info("op", NULL, "jwt eyJhbGciOiJSUzI1NiJ9.eyJpc3MiOiIxIn0.c2lnbmF0dXJl sent");
    hq_info("op", NULL, "header Authorization: Bearer abcdefghijklmnop1234");
    hq_info("op", NULL,
            /* a PEM block (split so that the source holds no key-like block) */
            "key -----BEGIN RSA PRIV"
            "ATE KEY-----\nMIIEow\n-----END RSA PRIV"
            "ATE KEY----- x");
    hq_debug("op", NULL, "not shown at info");
}

HQ_TEST(secrets_are_masked)
{
    char buf[8192];
    capture(buf, sizeof(buf), emit_secrets);
    CHECK(strstr(buf, "Secret to Everybody") == NULL);
    CHECK(strstr(buf, "ghs_abcdefghijklmnop") == NULL);
    CHECK(strstr(buf, "eyJhbGci") == NULL);
    CHECK(strstr(buf, "abcdefghijklmnop1234") == NULL);
    CHECK(strstr(buf, "MIIEow") == NULL);
    CHECK(strstr(buf, "not shown") == NULL);
    CHECK(strstr(buf, "***") != NULL);
    int lines = 0;
    for (char *line = buf, *nl; (nl = strchr(line, '\n')) != NULL; line = nl + 1) {
        *nl = '\0';
        cJSON *j = cJSON_Parse(line);
        CHECK(j != NULL);
        CHECK_STR(cJSON_GetStringValue(cJSON_GetObjectItem(j, "program")), "test");
        cJSON_Delete(j);
        lines++;
    }
    CHECK_EQ(lines, 5);
}

int main(int argc, char **argv)
{
    return hqtest_main(argc, argv);
}
