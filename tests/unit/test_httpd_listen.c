/* test_httpd_listen: the listening socket both services open
 * (common/httpd_listen.h); the parser's table is in test_receiver_config. */
#include "httpd_listen.h"
#include "hqtest.h"

#include <errno.h>
#include <stdio.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

static struct hq_httpd_listen parsed(const char *value)
{
    struct hq_httpd_listen l;
    const char *why = NULL;
    if (hq_httpd_listen_parse(value, &l, &why) != 0)
        fprintf(stderr, "  cannot parse '%s': %s\n", value, why);
    return l;
}

HQ_TEST(port_zero_reports_the_port_it_got)
{
    struct hq_httpd_listen l = parsed("127.0.0.1:0");
    struct hq_httpd_socket s;
    REQUIRE(hq_httpd_listen_open(&l, &s) == 0);
    CHECK(s.fd >= 0);
    CHECK(s.port > 0);
    char want[HQ_HTTPD_DESC_MAX];
    snprintf(want, sizeof(want), "127.0.0.1:%u", s.port);
    CHECK_STR(s.desc, want);
    close(s.fd);
}

HQ_TEST(a_port_in_use_is_refused_and_leaves_no_socket)
{
    struct hq_httpd_listen l = parsed("127.0.0.1:0");
    struct hq_httpd_socket first, second;
    REQUIRE(hq_httpd_listen_open(&l, &first) == 0);
    char value[64];
    snprintf(value, sizeof(value), "127.0.0.1:%u", first.port);
    l = parsed(value);
    CHECK_EQ(hq_httpd_listen_open(&l, &second), -EADDRINUSE);
    CHECK_EQ(second.fd, -1);
    close(first.fd);
}

HQ_TEST(a_stale_unix_socket_is_replaced_a_live_one_is_not)
{
    char value[200];
    int n = snprintf(value, sizeof(value), "unix:%s/r.sock", hqtest_dir());
    if (n < 0 || (size_t)n >= sizeof(((struct sockaddr_un *)0)->sun_path))
        SKIP("the test directory's path is too long for a unix socket");
    struct hq_httpd_listen l = parsed(value);
    struct hq_httpd_socket s;
    REQUIRE(hq_httpd_listen_open(&l, &s) == 0);
    CHECK_STR(s.desc, value);
    CHECK_EQ(s.port, 0);
    /* Someone listens on it: refused. */
    struct hq_httpd_socket again;
    CHECK_EQ(hq_httpd_listen_open(&l, &again), -EADDRINUSE);
    CHECK_EQ(again.fd, -1);
    /* Its listener is gone but the file stays: replaced. */
    close(s.fd);
    struct stat st;
    CHECK_EQ(stat(l.path, &st), 0);
    REQUIRE(hq_httpd_listen_open(&l, &s) == 0);
    close(s.fd);
    unlink(l.path);
}

int main(int argc, char **argv)
{
    return hqtest_main(argc, argv);
}
