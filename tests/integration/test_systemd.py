#!/usr/bin/env python3
"""deploy/systemd/ and deploy/hookq.env.example.

- `systemd-analyze verify` accepts the four units without a word, with their
  ExecStart= pointed at the binaries of this build (verify insists that the
  command exists); a deliberately broken copy shows that verify does speak up.
- `systemd-analyze security --offline=true` rates both services at an
  exposure of 2.0 or lower (PID 1 need not be systemd).
- The units keep the contract the code and the README rely on: one shared
  user and state directory, the credential names the binaries read, the
  environment file, restart and stop behaviour, loopback-only receiver.
- The receiver really reads its secret from $CREDENTIALS_DIRECTORY, as the
  unit's LoadCredential= expects.
- hookq.env.example documents every variable of schema/design.md §5 with its default,
  and every variable it documents is one the binaries' --help lists.
"""
import os
import re
import shutil
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import hqlib  # noqa: E402

SOURCE_DIR = hqlib.source_dir()
UNIT_DIR = os.path.join(SOURCE_DIR, 'deploy', 'systemd')
ENV_EXAMPLE = os.path.join(SOURCE_DIR, 'deploy', 'hookq.env.example')

SERVICES = ['hookq-receiver.service', 'hookq-worker.service']
UNITS = SERVICES + ['hookq-dlq-replay.service', 'hookq-dlq-replay.timer']
EXEC = {
    'hookq-receiver.service': 'hookq-receiver',
    'hookq-worker.service': 'hookq-worker',
    'hookq-dlq-replay.service': 'hookqctl',
}
MAX_EXPOSURE = 2.0

# schema/design.md §5, with the defaults as the example file writes them ('' = none).
DESIGN_VARS = {
    'HOOKQ_DB': '/var/lib/hookq',
    'HOOKQ_MAP_SIZE': '4GiB',
    'HOOKQ_LISTEN': '127.0.0.1:8080',
    'HOOKQ_WEBHOOK_PATH': '/webhook',
    'HOOKQ_WEBHOOK_SECRET_FILE': '',
    'HOOKQ_EVENTS': 'push,pull_request',
    'HOOKQ_MAX_BODY': '25MiB',
    'HOOKQ_GITHUB_API': 'https://api.github.com',
    'HOOKQ_APP_ID': '',
    'HOOKQ_APP_KEY_FILE': '',
    'HOOKQ_TOKEN_FILE': '',
    'HOOKQ_WORKERS': '8',
    'HOOKQ_CHECK_CMD': None,  # required: the example shows a placeholder
    'HOOKQ_CHECK_TIMEOUT': '10m',
    'HOOKQ_STATUS_CONTEXT': 'hookq',
    'HOOKQ_TARGET_URL': '',
    'HOOKQ_POST_PENDING': 'true',
    'HOOKQ_MAX_ATTEMPTS': '10',
    'HOOKQ_BACKOFF_BASE': '1s',
    'HOOKQ_BACKOFF_MAX': '10m',
    'HOOKQ_LEASE': '60s',
    'HOOKQ_METRICS_LISTEN': '127.0.0.1:9102',
    'HOOKQ_LOG_FORMAT': 'json',
    'HOOKQ_LOG_LEVEL': 'info',
}




def parse_unit(path):
    """[(section, key, value)] of a unit file; keys may repeat."""
    out, section = [], None
    with open(path, encoding='utf-8') as f:
        for line in f:
            line = line.strip()
            if not line or line.startswith(('#', ';')):
                continue
            if line.startswith('['):
                section = line.strip('[]')
                continue
            key, _, value = line.partition('=')
            out.append((section, key.strip(), value.strip()))
    return out


def values(unit, key, section='Service'):
    return [v for s, k, v in unit if s == section and k == key]


def value(unit, key, section='Service'):
    vals = values(unit, key, section)
    return vals[-1] if vals else None


def copy_units(dst, exec_for):
    """Copies the units into dst with /usr/local/bin/NAME replaced by
    exec_for(NAME); returns the copied paths."""
    paths = []
    for name in UNITS:
        with open(os.path.join(UNIT_DIR, name), encoding='utf-8') as f:
            text = f.read()
        text = re.sub(r'/usr/local/bin/([A-Za-z0-9_-]+)', lambda m: exec_for(m.group(1)), text)
        path = os.path.join(dst, name)
        with open(path, 'w', encoding='utf-8') as f:
            f.write(text)
        paths.append(path)
    return paths


def verify(paths):
    out = subprocess.run(['systemd-analyze', 'verify', '--man=no'] + paths,
                         capture_output=True, text=True, timeout=120)
    return out.returncode, (out.stdout + out.stderr).strip()


def exposure(path):
    out = subprocess.run(['systemd-analyze', 'security', '--offline=true', '--no-pager', path],
                         capture_output=True, text=True, timeout=120)
    m = re.search(r'Overall exposure level for \S+: (\d+\.\d+)', out.stdout + out.stderr)
    return (float(m.group(1)) if m else None), out.stdout + out.stderr


@unittest.skipUnless(shutil.which('systemd-analyze'), 'systemd-analyze not installed')
class UnitsTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix='hookq-systemd-')

    def tearDown(self):
        shutil.rmtree(self.tmp, ignore_errors=True)

    def test_verify_accepts_the_units(self):
        binaries = {name: hqlib.built(name) for name in EXEC.values()}
        missing = [n for n, p in binaries.items() if p is None]
        if missing:
            self.skipTest('not built yet: %s' % ', '.join(missing))
        paths = copy_units(self.tmp, lambda name: binaries[name])
        rc, text = verify(paths)
        self.assertEqual(rc, 0, text)
        self.assertEqual(text, '', 'systemd-analyze verify complained')

    def test_verify_speaks_up_on_a_broken_unit(self):
        # The check above must be able to fail: a misspelt key and a bad
        # value are reported, and a missing command too.
        paths = copy_units(self.tmp, lambda name: '/bin/true')
        worker = os.path.join(self.tmp, 'hookq-worker.service')
        with open(worker, encoding='utf-8') as f:
            text = f.read()
        text = text.replace('ProtectClock=yes', 'ProtectClok=yes')
        text = text.replace('RestrictRealtime=yes', 'RestrictRealtime=maybe')
        with open(worker, 'w', encoding='utf-8') as f:
            f.write(text)
        _, out = verify(paths)
        self.assertIn("Unknown key 'ProtectClok'", out)
        self.assertIn('maybe', out)
        paths = copy_units(self.tmp, lambda name: os.path.join(self.tmp, 'nonexistent', name))
        rc, out = verify(paths)
        self.assertNotEqual(rc, 0)
        self.assertIn('is not executable', out)

    def test_security_exposure(self):
        for name in SERVICES + ['hookq-dlq-replay.service']:
            with self.subTest(unit=name):
                level, text = exposure(os.path.join(UNIT_DIR, name))
                self.assertIsNotNone(level, text)
                print('%s: exposure %.1f' % (name, level), file=sys.stderr)
                self.assertLessEqual(level, MAX_EXPOSURE, text)

    def test_exposure_check_can_fail(self):
        # An unhardened service rates far above the limit.
        path = os.path.join(self.tmp, 'plain.service')
        with open(path, 'w', encoding='utf-8') as f:
            f.write('[Service]\nExecStart=/bin/true\n')
        level, text = exposure(path)
        self.assertIsNotNone(level, text)
        self.assertGreater(level, 8.0)


class UnitContractTest(unittest.TestCase):
    def setUp(self):
        self.units = {name: parse_unit(os.path.join(UNIT_DIR, name)) for name in UNITS}

    def test_one_user_and_state_directory_for_all(self):
        # With DynamicUser=, systemd allocates one UID per user *name*, shared
        # by the running units that use it: the same User= everywhere is what
        # lets them share the LMDB files.
        for name in EXEC:
            unit = self.units[name]
            with self.subTest(unit=name):
                self.assertEqual(value(unit, 'User'), 'hookq')
                self.assertEqual(value(unit, 'Group'), 'hookq')
                self.assertEqual(value(unit, 'DynamicUser'), 'yes')
                self.assertEqual(value(unit, 'StateDirectory'), 'hookq')
                self.assertEqual(value(unit, 'EnvironmentFile'), '-/etc/hookq/hookq.env')
                self.assertEqual(value(unit, 'UMask'), '0077')
                self.assertEqual(value(unit, 'ExecStart').split()[0],
                                 '/usr/local/bin/' + EXEC[name])
                for key in ('NoNewPrivileges', 'PrivateTmp', 'ProtectHome', 'PrivateDevices',
                            'RestrictSUIDSGID', 'LockPersonality', 'MemoryDenyWriteExecute'):
                    self.assertEqual(value(unit, key), 'yes', key)
                self.assertEqual(value(unit, 'ProtectSystem'), 'strict')
                self.assertEqual(value(unit, 'CapabilityBoundingSet'), '')

    def test_services_restart_and_stop(self):
        for name in SERVICES:
            unit = self.units[name]
            with self.subTest(unit=name):
                self.assertIn(value(unit, 'Type'), ('simple', 'exec'))
                self.assertEqual(value(unit, 'Restart'), 'on-failure')
                self.assertEqual(value(unit, 'KillSignal'), 'SIGTERM')
                self.assertRegex(value(unit, 'TimeoutStopSec') or '', r'^\d+s$')
                self.assertEqual(value(unit, 'WantedBy', 'Install'), 'multi-user.target')

    def test_credentials(self):
        rcv = values(self.units['hookq-receiver.service'], 'LoadCredential')
        wrk = values(self.units['hookq-worker.service'], 'LoadCredential')
        self.assertEqual(rcv, ['webhook-secret:/etc/hookq/webhook-secret'])
        self.assertEqual(wrk, ['app-key:/etc/hookq/app-key.pem'])
        # The names the binaries look up in $CREDENTIALS_DIRECTORY.
        for directory, names in (('receiver', ['webhook-secret']),
                                 ('worker', ['app-key', 'token'])):
            code = ''
            for fn in os.listdir(os.path.join(SOURCE_DIR, directory)):
                if fn.endswith('.c'):
                    with open(os.path.join(SOURCE_DIR, directory, fn), encoding='utf-8') as f:
                        code += f.read()
            for cred in names:
                self.assertRegex(code, r'hq_secret_path\([^;]*"%s"' % re.escape(cred),
                                 '%s/ never reads credential %s' % (directory, cred))

    def test_network_reach(self):
        rcv = self.units['hookq-receiver.service']
        wrk = self.units['hookq-worker.service']
        self.assertEqual(values(rcv, 'IPAddressDeny'), ['any'])
        self.assertEqual(values(rcv, 'IPAddressAllow'), ['localhost'])
        # The worker must reach GitHub.
        self.assertNotIn('any', ' '.join(values(wrk, 'IPAddressDeny')).split())
        for unit in (rcv, wrk):
            self.assertEqual(value(unit, 'RestrictAddressFamilies'), 'AF_INET AF_INET6 AF_UNIX')

    def test_dlq_replay_timer(self):
        svc = self.units['hookq-dlq-replay.service']
        self.assertEqual(value(svc, 'Type'), 'oneshot')
        self.assertEqual(value(svc, 'ExecStart'), '/usr/local/bin/hookqctl dlq replay --all')
        # Exit status 1 is "nothing matched" (schema/design.md §8): an empty
        # dead-letter set must not fail the unit.
        self.assertIn('1', value(svc, 'SuccessExitStatus').split())
        tmr = self.units['hookq-dlq-replay.timer']
        self.assertTrue(value(tmr, 'OnCalendar', 'Timer'))
        self.assertIn(value(tmr, 'Unit', 'Timer'), (None, 'hookq-dlq-replay.service'))
        self.assertEqual(value(tmr, 'WantedBy', 'Install'), 'timers.target')


def parse_env_example():
    """{VAR: (default or '', comment above it)} of the example file; lines
    are `#VAR=default` (commented out) or `VAR=value`."""
    docs, comment, last_was_var = {}, [], False
    with open(ENV_EXAMPLE, encoding='utf-8') as f:
        for line in f:
            line = line.rstrip('\n')
            m = re.match(r'^#?(HOOKQ_[A-Z0-9_]+)=(.*)$', line)
            was_var, last_was_var = last_was_var, bool(m)
            if m:
                docs[m.group(1)] = (m.group(2), ' '.join(comment))
                continue
            if line.startswith('#') and was_var:
                comment = []  # a new paragraph right after a variable line
            if line.startswith('#'):
                comment.append(line.lstrip('# '))
            elif not line.strip():
                comment = []
            else:
                raise AssertionError('not a comment or VAR=value: %r' % line)
    return docs


class EnvExampleTest(unittest.TestCase):
    def test_every_design_variable_with_default(self):
        docs = parse_env_example()
        for var, default in DESIGN_VARS.items():
            with self.subTest(var=var):
                self.assertTrue(var in docs, '%s is not in %s' % (var, ENV_EXAMPLE))
                shown, comment = docs[var]
                if default is not None:
                    self.assertEqual(shown, default)
                self.assertTrue(comment.strip(), '%s has no comment' % var)

    def test_nothing_is_set_by_default(self):
        # Every line is commented out: the file changes nothing until edited,
        # and never carries a secret.
        with open(ENV_EXAMPLE, encoding='utf-8') as f:
            for line in f:
                self.assertFalse(re.match(r'^HOOKQ_', line), line)

    def test_documented_variables_exist(self):
        helps = ''
        for name in ('hookq-receiver', 'hookq-worker', 'hookqctl'):
            path = hqlib.built(name)
            if path is None:
                continue
            out = subprocess.run([path, '--help'], capture_output=True, text=True, timeout=30)
            helps += out.stdout + out.stderr
        have = set(re.findall(r'HOOKQ_[A-Z0-9_]+', helps))
        if 'HOOKQ_LISTEN' not in have or 'HOOKQ_CHECK_CMD' not in have:
            self.skipTest('receiver and worker not both built')
        for var in parse_env_example():
            with self.subTest(var=var):
                self.assertTrue(var in have, '%s is in the example but in no --help' % var)
        documented = parse_env_example()
        for var in sorted(have):
            if var.startswith(('HOOKQ_EVENT', 'HOOKQ_ACTION', 'HOOKQ_REPO', 'HOOKQ_SHA',
                               'HOOKQ_DELIVERY', 'HOOKQ_ATTEMPT')) and var not in DESIGN_VARS:
                continue  # the check's environment, not configuration
            with self.subTest(var=var):
                self.assertTrue(var in documented, '%s is in --help but not in %s'
                                % (var, ENV_EXAMPLE))


class CredentialsDirectoryTest(unittest.TestCase):
    """What LoadCredential=webhook-secret:... hands the receiver works."""

    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix='hookq-systemd-')
        self.rcv = None

    def tearDown(self):
        if self.rcv is not None:
            self.rcv.stop()
        shutil.rmtree(self.tmp, ignore_errors=True)

    def test_receiver_reads_credentials_directory(self):
        if hqlib.built('hookq-receiver') is None:
            self.skipTest('hookq-receiver not built')
        creds = os.path.join(self.tmp, 'credentials')
        os.mkdir(creds, 0o700)
        secret = b'from-systemd-credential'
        with open(os.path.join(creds, 'webhook-secret'), 'wb') as f:
            f.write(secret + b'\n')
        self.rcv = hqlib.start_receiver(
            os.path.join(self.tmp, 'rcv'), secrets=[b'unused-by-this-test'],
            env={'HOOKQ_WEBHOOK_SECRET_FILE': None, 'CREDENTIALS_DIRECTORY': creds})
        body = hqlib.make_payload('push', 4242, 'octo/creds')
        status, _, js = hqlib.post_delivery(self.rcv.port, 'push', 'cred-0001', body, secret=secret)
        self.assertEqual(status, 202, js)
        status, _, js = hqlib.post_delivery(self.rcv.port, 'push', 'cred-0002', body,
                                            secret=b'unused-by-this-test')
        self.assertEqual(status, 401, js)


if __name__ == '__main__':
    hqlib.unittest_main()
