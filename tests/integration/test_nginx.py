#!/usr/bin/env python3
"""deploy/nginx/hookq.conf with real nginx in front of a real receiver.

Each test renders the shipped file (its FILL IN values replaced: a free
loopback port, a self-signed certificate made with the openssl CLI, the
receiver's port, a log directory), includes it in a minimal nginx.conf's
http {} block, runs /usr/sbin/nginx as this user in its own prefix, and
talks HTTPS to it, checking what reached the queue with hookqctl.
"""
import http.client
import json
import os
import re
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import time
import unittest
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import hqlib  # noqa: E402

NGINX = shutil.which('nginx') or ('/usr/sbin/nginx' if os.path.exists('/usr/sbin/nginx')
                                  else None)
OPENSSL = shutil.which('openssl')
CONF = os.path.join(hqlib.source_dir(), 'deploy', 'nginx', 'hookq.conf')
SECRET = b'nginx-test-secret'
MIB = 1024 * 1024




def render(conf_text, port, upstream_port, cert, key, logdir, extra=()):
    """The shipped file with its FILL IN values replaced. Each value must be
    there exactly as often as expected, so a reshaped file fails here rather
    than run with a default."""
    subs = [
        ('listen 443 ssl;', 'listen 127.0.0.1:%d ssl;' % port, 1),
        ('listen [::]:443 ssl;', '', 1),  # loopback IPv4 only in the test
        ('/etc/ssl/hookq/fullchain.pem', cert, 1),
        ('/etc/ssl/hookq/privkey.pem', key, 1),
        ('server 127.0.0.1:8080;', 'server 127.0.0.1:%d;' % upstream_port, 1),
        ('access_log /var/log/nginx/hookq.access.log',
         'access_log %s/hookq.access.log' % logdir, 1),
        ('error_log  /var/log/nginx/hookq.error.log', 'error_log %s/hookq.error.log' % logdir, 1),
    ] + list(extra)
    for old, new, count in subs:
        found = conf_text.count(old)
        if found != count:
            raise AssertionError('%s: %r found %d times, expected %d' % (CONF, old, found, count))
        conf_text = conf_text.replace(old, new)
    return conf_text


class Nginx:
    """nginx in the foreground (daemon off) with its prefix in workdir."""

    def __init__(self, workdir, site_text):
        self.dir = workdir
        os.makedirs(workdir, exist_ok=True)
        if os.geteuid() == 0:
            # As root nginx's workers run as nobody: they need to reach the
            # temp directories under workdir (a body over
            # client_body_buffer_size is written there) and so every
            # directory above it.
            os.chmod(workdir, 0o755)
        self.port = None
        self.proc = None
        site = os.path.join(workdir, 'hookq.conf')
        with open(site, 'w', encoding='utf-8') as f:
            f.write(site_text)
        self.error_log = os.path.join(workdir, 'error.log')
        self.conf = os.path.join(workdir, 'nginx.conf')
        with open(self.conf, 'w', encoding='utf-8') as f:
            f.write('\n'.join([
                'daemon off;',
                'master_process on;',
                'worker_processes 1;',
                'pid %s/nginx.pid;' % workdir,
                'error_log %s info;' % self.error_log,
                'events { worker_connections 128; }',
                'http {',
                '    access_log %s/access.log;' % workdir,
                '    client_body_temp_path %s/client_body_temp;' % workdir,
                '    proxy_temp_path %s/proxy_temp;' % workdir,
                '    fastcgi_temp_path %s/fastcgi_temp;' % workdir,
                '    uwsgi_temp_path %s/uwsgi_temp;' % workdir,
                '    scgi_temp_path %s/scgi_temp;' % workdir,
                '    include %s;' % site,
                '}',
                '',
            ]))

    def check(self):
        out = subprocess.run([NGINX, '-t', '-q', '-p', self.dir, '-e', self.error_log,
                              '-c', self.conf], capture_output=True, text=True, timeout=30)
        return out.returncode, out.stdout + out.stderr

    def start(self, port):
        self.port = port
        self.proc = subprocess.Popen([NGINX, '-p', self.dir, '-e', self.error_log, '-c', self.conf],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError('nginx exited %d:\n%s' % (self.proc.returncode,
                                                              self.log()))
            try:
                socket.create_connection(('127.0.0.1', port), timeout=1).close()
                return
            except OSError:
                time.sleep(0.05)
        raise AssertionError('nginx did not listen on %d:\n%s' % (port, self.log()))

    def log(self):
        try:
            with open(self.error_log, encoding='utf-8', errors='replace') as f:
                return f.read()
        except OSError:
            return ''

    def access_log(self):
        with open(os.path.join(self.dir, 'hookq.access.log'), encoding='utf-8') as f:
            return f.read()

    def stop(self):
        """Fast shutdown of the master we started; its workers exit with it.
        On a hang, the master and then its own children are killed by PID."""
        if self.proc is None or self.proc.poll() is not None:
            return
        children = self._children()
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=10)
        for pid in children:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass

    def _children(self):
        out = subprocess.run(['ps', '-o', 'pid=', '--ppid', str(self.proc.pid)],
                             capture_output=True, text=True)
        return [int(p) for p in out.stdout.split()]


@unittest.skipUnless(NGINX, 'nginx not installed (Debian package nginx)')
@unittest.skipUnless(OPENSSL, 'openssl CLI not installed')
class NginxTest(unittest.TestCase):
    def setUp(self):
        for name in ('hookq-receiver', 'hookqctl'):
            if hqlib.built(name) is None:
                self.skipTest('%s not built' % name)
        self.tmp = tempfile.mkdtemp(prefix='hookq-nginx-')
        self.nginx = None
        self.rcv = None
        self.cert = os.path.join(self.tmp, 'cert.pem')
        self.key = os.path.join(self.tmp, 'key.pem')
        out = subprocess.run(
            [OPENSSL, 'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1',
             '-nodes', '-keyout', self.key, '-out', self.cert, '-days', '2',
             '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1,DNS:localhost'],
            capture_output=True, text=True, timeout=60)
        self.assertEqual(out.returncode, 0, out.stderr)
        self.rcv = hqlib.start_receiver(os.path.join(self.tmp, 'receiver'), secrets=[SECRET])

    def tearDown(self):
        if self.nginx is not None:
            self.nginx.stop()
        if self.rcv is not None:
            self.rcv.stop()
        shutil.rmtree(self.tmp, ignore_errors=True)

    def start_nginx(self, extra=(), name='nginx'):
        with open(CONF, encoding='utf-8') as f:
            text = f.read()
        workdir = os.path.join(self.tmp, name)
        os.makedirs(workdir)
        if os.geteuid() == 0:
            os.chmod(self.tmp, 0o755)  # see Nginx.__init__
        port = hqlib.free_port()
        site = render(text, port, self.rcv.port, self.cert, self.key, workdir, extra)
        ng = Nginx(workdir, site)
        rc, out = ng.check()
        self.assertEqual(rc, 0, 'nginx -t: ' + out)
        ng.start(port)
        if self.nginx is None:
            self.nginx = ng
        else:
            self.addCleanup(ng.stop)
        return ng

    def https(self, ng, method, path, body=None, headers=None, timeout=30):
        ctx = ssl.create_default_context(cafile=self.cert)
        conn = http.client.HTTPSConnection('127.0.0.1', ng.port, context=ctx, timeout=timeout)
        try:
            conn.request(method, path, body=body, headers=headers or {})
            resp = conn.getresponse()
            data = resp.read()
            return resp.status, {k.lower(): v for k, v in resp.getheaders()}, data
        finally:
            conn.close()

    def deliver(self, ng, event, delivery, body, secret=SECRET, hook_id='77',
                content_type='application/json'):
        headers = {
            'X-GitHub-Event': event,
            'X-GitHub-Delivery': delivery,
            'X-GitHub-Hook-ID': hook_id,
            'X-GitHub-Hook-Installation-Target-Type': 'integration',
            'User-Agent': 'GitHub-Hookshot/abc1234',
            'Content-Type': content_type,
        }
        if secret is not None:
            headers['X-Hub-Signature-256'] = hqlib.sign(secret, body)
        return self.https(ng, 'POST', '/webhook', body, headers)

    def stats(self):
        return hqlib.queue_stats(self.rcv.db)

    def listing(self):
        return hqlib.queue_events(self.rcv.db)

    # -- the tests ---------------------------------------------------------

    def test_signed_delivery_passes_end_to_end(self):
        ng = self.start_nginx()
        body = hqlib.make_payload('push', 9001, 'octo/nginx')
        status, headers, data = self.deliver(ng, 'push', 'e2e-0001-aaaa', body)
        self.assertEqual(status, 202, data)
        self.assertEqual(json.loads(data)['result'], 'accepted')
        # The form-encoded content type GitHub can send gets through as well.
        form = urllib.parse.urlencode({'payload': hqlib.make_payload(
            'push', 9001, 'octo/nginx').decode()}).encode()
        status, _, data = self.deliver(ng, 'push', 'e2e-0002-bbbb', form,
                                       content_type='application/x-www-form-urlencoded')
        self.assertEqual(status, 202, data)
        self.assertEqual(self.stats()['queued'], 2)
        # GitHub's headers arrived unchanged: the queue holds their values.
        events = sorted(self.listing(), key=lambda e: e['delivery'])
        self.assertEqual([e['delivery'] for e in events], ['e2e-0001-aaaa', 'e2e-0002-bbbb'])
        for e in events:
            self.assertEqual(e['event'], 'push')
            self.assertEqual(str(e['hook_id']), '77')
            self.assertEqual(e['repo_id'], 9001)
        # The access log carries the correlation id.
        self.assertIn('delivery=e2e-0001-aaaa', ng.access_log())
        # A redelivery through nginx is a duplicate, not a second event.
        status, _, data = self.deliver(ng, 'push', 'e2e-0001-aaaa', body)
        self.assertEqual(status, 200, data)
        self.assertEqual(self.stats()['queued'], 2)

    def test_largest_github_payload_passes(self):
        # 25 MiB exactly, GitHub's cap: nginx buffers it to disk and hands it
        # to the receiver byte for byte (the signature still matches).
        ng = self.start_nginx()
        body = padded_payload(25 * MIB)
        self.assertEqual(len(body), 25 * MIB)
        status, _, data = self.deliver(ng, 'push', 'big-0001-cccc', body)
        self.assertEqual(status, 202, data)
        self.assertEqual(self.stats()['queued'], 1)

    def test_body_over_25_mib_is_refused_by_nginx(self):
        ng = self.start_nginx()
        body = padded_payload(25 * MIB + 1)
        status, headers, data = send_large(ng.port, self.cert, body, {
            'X-GitHub-Event': 'push',
            'X-GitHub-Delivery': 'huge-0001-dddd',
            'X-GitHub-Hook-ID': '77',
            'Content-Type': 'application/json',
            'X-Hub-Signature-256': hqlib.sign(SECRET, body),
        })
        self.assertEqual(status, 413, data)
        # nginx's own answer (HTML), not the receiver's JSON; nothing queued,
        # and the access log shows no upstream was asked.
        self.assertIn(b'413', data)
        self.assertNotIn(b'"result"', data)
        self.assertEqual(self.stats()['queued'], 0)
        line = [l for l in ng.access_log().splitlines() if 'huge-0001-dddd' in l]
        self.assertEqual(len(line), 1, ng.access_log())
        self.assertIn(' 413 ', line[0])
        self.assertIn('upstream=- ', line[0])

    def test_only_post_on_the_webhook(self):
        ng = self.start_nginx()
        for method in ('GET', 'PUT', 'DELETE', 'PATCH', 'OPTIONS'):
            with self.subTest(method=method):
                status, headers, _ = self.https(ng, method, '/webhook')
                self.assertEqual(status, 405)
                self.assertEqual(headers.get('allow'), 'POST')
        status, _, _ = self.https(ng, 'HEAD', '/webhook')
        self.assertEqual(status, 405)
        self.assertEqual(self.stats()['queued'], 0)

    def test_health_and_metrics_are_not_public(self):
        ng = self.start_nginx()
        for path in ('/healthz', '/metrics', '/', '/webhook/', '/webhook/x', '/index.html'):
            for method in ('GET', 'POST'):
                with self.subTest(path=path, method=method):
                    status, _, data = self.https(ng, method, path)
                    self.assertEqual(status, 404, data)
                    self.assertNotIn(b'hookq_', data)
        # They do exist on the receiver itself, for Prometheus on loopback.
        conn = http.client.HTTPConnection('127.0.0.1', self.rcv.port, timeout=10)
        try:
            conn.request('GET', '/metrics')
            resp = conn.getresponse()
            self.assertEqual(resp.status, 200)
            self.assertIn(b'hookq_', resp.read())
        finally:
            conn.close()

    def test_unsigned_post_gets_the_receivers_401(self):
        ng = self.start_nginx()
        body = hqlib.make_payload('push', 9002, 'octo/unsigned')
        status, headers, data = self.deliver(ng, 'push', 'nosig-0001-eeee', body, secret=None)
        self.assertEqual(status, 401, data)
        self.assertIn('error', json.loads(data))  # the receiver's JSON, through nginx
        status, _, data = self.deliver(ng, 'push', 'badsig-0001-ffff', body,
                                       secret=b'not-the-secret')
        self.assertEqual(status, 401, data)
        self.assertEqual(self.stats()['queued'], 0)

    def test_rate_limit(self):
        # The shipped limit is generous (GitHub sends bursts); squeezed to a
        # burst of 2 here to see it act: the 4th request in a row is 429.
        ng = self.start_nginx(extra=[('rate=100r/s', 'rate=1r/m', 1),
                                     ('burst=500', 'burst=2', 1)])
        body = hqlib.make_payload('push', 9003, 'octo/limited')
        statuses = [self.deliver(ng, 'push', 'rl-%04d' % i, body, secret=None)[0]
                    for i in range(5)]
        self.assertEqual(statuses, [401, 401, 401, 429, 429])

    def test_tls_versions(self):
        ng = self.start_nginx()
        for version in (ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.TLSv1_3):
            with self.subTest(version=version):
                ctx = ssl.create_default_context(cafile=self.cert)
                ctx.minimum_version = version
                ctx.maximum_version = version
                with socket.create_connection(('127.0.0.1', ng.port), timeout=10) as s:
                    with ctx.wrap_socket(s, server_hostname='127.0.0.1') as tls:
                        self.assertEqual(tls.version(), version.name.replace('_', '.'))


class ConfStaticTest(unittest.TestCase):
    """What the live tests cannot time cheaply: every wait is under the 10 s
    GitHub gives a delivery."""

    def test_timeouts_under_ten_seconds(self):
        with open(CONF, encoding='utf-8') as f:
            text = f.read()
        found = dict(re.findall(r'^\s*((?:client|proxy|send|keepalive)\w*_timeout)\s+(\d+)s;',
                                text, re.M))
        for name in ('client_header_timeout', 'client_body_timeout', 'send_timeout',
                     'proxy_connect_timeout', 'proxy_send_timeout', 'proxy_read_timeout'):
            with self.subTest(directive=name):
                self.assertIn(name, found)
                self.assertLess(int(found[name]), 10)

    def test_body_limit_and_protocols(self):
        with open(CONF, encoding='utf-8') as f:
            text = f.read()
        self.assertRegex(text, r'(?m)^\s*client_max_body_size 25m;')
        self.assertRegex(text, r'(?m)^\s*ssl_protocols TLSv1\.2 TLSv1\.3;')
        self.assertRegex(text, r'(?m)^limit_req_zone ')


def padded_payload(size):
    """A valid push payload of exactly size bytes."""
    base = json.loads(hqlib.make_payload('push', 9004, 'octo/large'))
    base['padding'] = ''
    empty = json.dumps(base, separators=(',', ':')).encode()
    base['padding'] = 'x' * (size - len(empty))
    body = json.dumps(base, separators=(',', ':')).encode()
    assert len(body) == size
    return body


def send_large(port, cafile, body, headers):
    """POSTs body over HTTPS, tolerating nginx closing the connection while
    the body is still being sent (it answers 413 from the headers), and
    returns (status, headers, data)."""
    ctx = ssl.create_default_context(cafile=cafile)
    conn = http.client.HTTPSConnection('127.0.0.1', port, context=ctx, timeout=30)
    try:
        conn.putrequest('POST', '/webhook')
        for k, v in headers.items():
            conn.putheader(k, v)
        conn.putheader('Content-Length', str(len(body)))
        conn.endheaders()
        try:
            view = memoryview(body)
            for off in range(0, len(body), 256 * 1024):
                conn.send(view[off:off + 256 * 1024])
        except (BrokenPipeError, ConnectionResetError, ssl.SSLError):
            pass
        resp = conn.getresponse()
        return resp.status, {k.lower(): v for k, v in resp.getheaders()}, resp.read()
    finally:
        conn.close()


if __name__ == '__main__':
    hqlib.unittest_main()
