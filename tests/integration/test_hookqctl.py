#!/usr/bin/env python3
"""hookqctl (schema/design.md §2 replay, §8 names and output) on real databases.

Every case drives the real hookqctl binary on its own database, made by
tests/tools/qfixture through the real queue API (enqueue, lease, retry,
dead-letter): listings and their filters in tables and JSON, dlq show,
replay/purge by id, filter and --all with --dry-run, export/import round
trips, every exit status with its message, a missing database, a newer
schema, read-only commands beside a process holding the write lock, and
SIGINT during a long listing.

With HOOKQ_TEST_QUEUE=postgresql every case runs on a new database of the
tests' PostgreSQL cluster instead (hqlib.pg_database), but the few that are
about LMDB's files and locks.
"""
import base64
import hashlib
import json
import os
import shutil
import signal
import subprocess
import tempfile
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
BUILD = os.environ.get('HOOKQ_BUILD_DIR', os.path.join(HERE, '..', '..', 'build'))
CTL = os.path.join(BUILD, 'worker', 'hookqctl')
FIX = os.path.join(BUILD, 'tests', 'tools', 'qfixture')
PG = os.environ.get('HOOKQ_TEST_QUEUE') == 'postgresql'
lmdb_only = unittest.skipIf(PG, 'about LMDB only')

PR_PAYLOAD = json.dumps({
    'action': 'opened', 'number': 17,
    'pull_request': {'title': 'Make it faster\nbody text', 'state': 'open',
                     'head': {'sha': 'feedbeef' * 5, 'ref': 'speed'},
                     'base': {'ref': 'main'}, 'user': {'login': 'mona'}},
    'sender': {'login': 'mona'}, 'repository': {'id': 200, 'full_name': 'octo/beta'},
    # bytes a lossy round trip would break: non-ASCII, escapes, a control char
    'note': 'caf\u00e9 \u2603 "quoted" \\ back\tslash \u0001',
}, ensure_ascii=False)


class CtlCase(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix='hookqctl-test-')
        self.db = os.path.join(self.tmp, 'db')
        if PG:
            import hqlib
            try:
                self.db = hqlib.pg_database()
            except hqlib.Skip as e:
                self.skipTest(str(e))

    def tearDown(self):
        shutil.rmtree(self.tmp, ignore_errors=True)

    def fx(self, *args, db=None):
        r = subprocess.run([FIX, db or self.db] + [str(a) for a in args],
                           capture_output=True, text=True, timeout=60)
        self.assertEqual(r.returncode, 0, 'qfixture %s: %s' % (args, r.stderr))
        return r.stdout.strip()

    def ctl(self, *args, db=None, rc=0, input=None, binary=False, env=None):
        argv = [CTL] + (['--db', db or self.db] if db is not False else [])
        r = subprocess.run(argv + [str(a) for a in args], capture_output=True,
                           input=input, text=not binary, timeout=60, env=env)
        err = r.stderr if isinstance(r.stderr, str) else r.stderr.decode(errors='replace')
        for bad in ['AddressSanitizer', 'LeakSanitizer', 'runtime error:']:
            self.assertNotIn(bad, err)  # a sanitizer's exit status could look like ours
        if rc is not None:
            self.assertEqual(r.returncode, rc, 'hookqctl %s: rc %d\nstdout: %s\nstderr: %s'
                             % (' '.join(map(str, args)), r.returncode, r.stdout, r.stderr))
        return r

    def jlines(self, *args, **kw):
        out = self.ctl(*args, '--json', **kw).stdout
        return [json.loads(line) for line in out.splitlines()]

    def populate(self):
        """alpha(100): 3 pushes; beta(200): a pull request; gamma(300): 2 pushes.
        Dead: alpha d-a1 (3 days ago, 422), beta d-b1 (1 h ago, 404, after a
        failed attempt and a recorded check), alpha d-a2 (now, lease expired).
        Left queued: alpha d-a3 (ready), gamma d-g1 (waiting), d-g2 (queued)."""
        ids = {}
        for repo_id, name, event, action, delivery, payload in [
                (100, 'octo/alpha', 'push', '', 'd-a1', None),
                (100, 'octo/alpha', 'push', '', 'd-a2', None),
                (100, 'octo/alpha', 'push', '', 'd-a3', None),
                (200, 'octo/beta', 'pull_request', 'opened', 'd-b1', PR_PAYLOAD),
                (300, 'Octo/Gamma', 'push', '', 'd-g1', None),
                (300, 'Octo/Gamma', 'push', '', 'd-g2', None)]:
            args = ['enqueue', repo_id, name, event, action, delivery, 7]
            if payload is not None:
                args.append(payload)
            ids[delivery] = int(self.fx(*args))
        self.fx('dead', 100, 'GitHub answered 422: No commit found for SHA', 3 * 86400)
        self.fx('retry', 200, 0, 'HTTP 502 from GitHub')
        self.fx('step', 200, 2, 2, 'tests failed: 3 of 10')
        self.fx('dead', 200, 'permanent: 404 Not Found', 3600)
        self.fx('dead', 100, 'lease of w1 expired; 10 attempts failed')
        self.fx('retry', 300, 3600, 'HTTP 503')
        return ids

    def data_digest(self):
        if PG:  # every row of every table, in a stable order
            import hqlib
            rows = hqlib.pg_sql(self.db, "SELECT string_agg(t, E'\\n' ORDER BY t) FROM ("
                                "SELECT c.relname || ':' || x::text AS t FROM pg_class c, "
                                "LATERAL query_to_xml('SELECT * FROM ' || c.relname, false, "
                                "false, '') x WHERE c.relname LIKE 'hq\\_%' AND c.relkind = "
                                "'r') s")
            return hashlib.sha256(rows.encode()).hexdigest()
        with open(os.path.join(self.db, 'data.mdb'), 'rb') as f:
            return hashlib.sha256(f.read()).hexdigest()


class TestBasics(CtlCase):
    def test_help_and_version(self):
        r = self.ctl('--help', db=False)
        for word in ['stats', 'list', 'dlq list', 'dlq show', 'dlq replay', 'dlq purge',
                     'dlq export', 'dlq import', '--db', '--json', '--limit', '--dry-run',
                     '--repo', '--event', '--state', '--reason', '--since', '--older-than',
                     '--payload', '--all', 'HOOKQ_DB', 'Exit status']:
            self.assertIn(word, r.stdout)
        self.assertRegex(self.ctl('--version', db=False).stdout, r'^hookqctl \d+\.\d+\.\d+\n$')
        self.assertIn('dlq replay', self.ctl('dlq', 'replay', '--help').stdout)

    def test_usage_errors_exit_2(self):
        self.populate()
        before = self.data_digest()
        cases = [
            ([], 'no command'),
            (['frobnicate'], "unknown command 'frobnicate'"),
            (['dlq'], 'dlq: which one'),
            (['dlq', 'frob'], "unknown command 'dlq frob'"),
            (['--bogus', 'stats'], "unknown option '--bogus'"),
            (['stats', '--bogus'], "unknown option '--bogus'"),
            (['stats', 'extra'], "unexpected argument 'extra'"),
            (['list', '--limit'], "option '--limit' needs a value"),
            (['list', '--limit', '0'], '--limit'),
            (['list', '--limit', 'ten'], '--limit'),
            (['list', '--state', 'sleeping'], '--state: want ready, waiting or queued'),
            (['list', '--repo', 'noslash'], '--repo: want owner/name'),
            (['dlq', 'list', '--since', 'yesterday'], '--since'),
            (['dlq', 'list', '--older-than', '5parsecs'], '--older-than'),
            (['dlq', 'show'], 'exactly one dead-letter id'),
            (['dlq', 'show', 'abc'], "'abc' is not an event id"),
            (['dlq', 'show', '0'], "'0' is not an event id"),
            (['dlq', 'replay'], 'give dead-letter ids, filters or --all'),
            (['dlq', 'replay', '1', '--all'], 'exactly one of them'),
            (['dlq', 'replay', '--all', '--event', 'push'], 'exactly one of them'),
            (['dlq', 'replay', '1', 'x2'], "'x2' is not an event id"),
            (['dlq', 'replay', '--limit', '2'], 'give dead-letter ids, filters or --all'),
            (['dlq', 'purge', '--older-than', 'soon'], '--older-than'),
            (['dlq', 'purge'], 'give dead-letter ids, filters or --all'),
            (['dlq', 'export', 'a', 'b'], 'at most one output file'),
        ]
        for args, msg in cases:
            with self.subTest(args=args):
                r = self.ctl(*args, rc=2)
                self.assertIn(msg, r.stderr)
                self.assertTrue(r.stderr.startswith('hookqctl: '), r.stderr)
                self.assertEqual(len(r.stderr.splitlines()), 1, r.stderr)
        self.assertEqual(self.data_digest(), before)

    def test_filter_usage_errors_exit_2(self):
        """Each command takes the filters of its kind from one table: queued
        events --state, dead letters --reason/--since/--older-than; a wrong or
        malformed one is a usage error before anything is opened."""
        self.populate()
        before = self.data_digest()
        cases = [
            (['list', '--reason', 'x'], "list: unknown option '--reason'"),
            (['list', '--since', '1h'], "list: unknown option '--since'"),
            (['list', '--older-than', '1h'], "list: unknown option '--older-than'"),
            (['list', '--event', ''], "--event: malformed value ''"),
            (['list', '--repo', '0'], "--repo: malformed value '0'"),
            (['dlq', 'list', '--state', 'ready'], "dlq list: unknown option '--state'"),
            (['dlq', 'list', '--repo'], "dlq list: option '--repo' needs a value"),
            (['dlq', 'list', '--reason', ''], "--reason: malformed value ''"),
            (['dlq', 'list', '--event', 'e' * 300], '--event: malformed value'),
            (['dlq', 'list', '--limit', '-1'], '--limit: want a whole number'),
            (['dlq', 'replay', '--repo', 'noslash'], '--repo: want owner/name'),
            (['dlq', 'replay', '--since', 'later'], '--since: want a duration'),
            (['dlq', 'replay', '--state', 'ready'], "dlq replay: unknown option '--state'"),
            (['dlq', 'replay', '--json', '--all'], "dlq replay: unknown option '--json'"),
            (['dlq', 'purge', '--all', '--limit', '0'], '--limit: want a whole number'),
            (['dlq', 'purge', '--event'], "dlq purge: option '--event' needs a value"),
            (['dlq', 'purge', '--reason', ''], "--reason: malformed value ''"),
            (['dlq', 'export', '--since', 'yesterday'], '--since: want a duration'),
            (['dlq', 'export', '--older-than', 'soon'], '--older-than: want a duration'),
            (['dlq', 'export', '--limit', '0'], '--limit: want a whole number'),
            (['dlq', 'export', '--repo', 'noslash'], '--repo: want owner/name'),
            (['dlq', 'export', '--state', 'ready'], "dlq export: unknown option '--state'"),
            (['dlq', 'export', '--json'], "dlq export: unknown option '--json'"),
            (['dlq', 'export', '--limit'], "dlq export: option '--limit' needs a value"),
            (['dlq', 'show', '1', '--repo', 'a/b'], "dlq show: unknown option '--repo'"),
            (['dlq', 'import', '--limit', '1'], "dlq import: unknown option '--limit'"),
            (['stats', '--limit', '1'], "stats: unknown option '--limit'"),
        ]
        for args, msg in cases:
            with self.subTest(args=args):
                r = self.ctl(*args, rc=2)
                self.assertIn(msg, r.stderr)
                self.assertTrue(r.stderr.startswith('hookqctl: '), r.stderr)
                self.assertEqual(len(r.stderr.splitlines()), 1, r.stderr)
                self.assertEqual(r.stdout, '')
        self.assertEqual(self.data_digest(), before)

    def test_missing_database(self):
        missing = os.path.join(self.tmp, 'nothing-here')
        for args in [['stats'], ['list'], ['dlq', 'list'], ['dlq', 'show', '1'],
                     ['dlq', 'replay', '1'], ['dlq', 'purge', '--all'], ['dlq', 'export']]:
            with self.subTest(args=args):
                r = self.ctl(*args, db=missing, rc=2)
                self.assertIn('no hookq database at ' + missing, r.stderr)
                self.assertFalse(os.path.exists(missing), 'created by %s' % args)
        # the default comes from HOOKQ_DB
        env = dict(os.environ, HOOKQ_DB=missing)
        r = self.ctl('stats', db=False, rc=2, env=env)
        self.assertIn(missing, r.stderr)

    @lmdb_only
    def test_newer_schema(self):
        ids = self.populate()
        self.fx('schema', 2)
        before = self.data_digest()
        for args in [['stats'], ['list'], ['dlq', 'list'], ['dlq', 'show', ids['d-a1']],
                     ['dlq', 'replay', '--all'], ['dlq', 'purge', ids['d-a1']]]:
            with self.subTest(args=args):
                r = self.ctl(*args, rc=2)
                self.assertIn('schema', r.stderr)
                self.assertIn('nothing was changed', r.stderr)
        self.assertEqual(self.data_digest(), before)
        self.fx('schema', 1)
        self.assertEqual(len(self.jlines('dlq', 'list')), 3)


class TestListings(CtlCase):
    def setUp(self):
        super().setUp()
        self.ids = self.populate()

    def test_stats(self):
        st = json.loads(self.ctl('stats', '--json').stdout)
        for key in ['queued', 'repositories', 'ready', 'waiting', 'leased', 'dead',
                    'oldest_age_seconds', 'enqueued_total', 'duplicates_total', 'done_total',
                    'dead_total'] + ([] if PG else ['map_size', 'map_used']):
            self.assertIn(key, st)
        self.assertEqual((st['queued'], st['repositories'], st['ready'], st['waiting'],
                          st['leased'], st['dead'], st['enqueued_total'], st['dead_total']),
                         (3, 2, 1, 1, 0, 3, 6, 3))
        self.assertIsInstance(st['oldest_age_seconds'], float)
        table = self.ctl('stats').stdout
        self.assertRegex(table, r'(?m)^queued\s+3$')
        self.assertRegex(table, r'(?m)^dead\s+3$')
        self.fx('lease', 100)
        self.assertEqual(json.loads(self.ctl('stats', '--json').stdout)['leased'], 1)

    def test_list_json_fields_order_and_states(self):
        rows = self.jlines('list')
        self.assertEqual([r['delivery'] for r in rows], ['d-a3', 'd-g1', 'd-g2'])
        a3, g1, g2 = rows
        for key in ['id', 'repo', 'repo_id', 'delivery', 'hook_id', 'event', 'action',
                    'attempts', 'received_at']:
            self.assertIn(key, a3)
        self.assertEqual((a3['id'], a3['repo'], a3['repo_id'], a3['hook_id'], a3['event'],
                          a3['action'], a3['attempts']),
                         (self.ids['d-a3'], 'octo/alpha', 100, 7, 'push', '', 0))
        self.assertRegex(a3['received_at'], r'^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$')
        self.assertEqual((a3['state'], g1['state'], g2['state']), ('ready', 'waiting', 'queued'))
        self.assertEqual((g1['attempts'], g2['position']), (1, 1))
        self.assertIn('not_before', g1)
        self.assertNotIn('not_before', a3)

    def test_list_filters_and_limit(self):
        d = lambda *a: [r['delivery'] for r in self.jlines('list', *a)]
        self.assertEqual(d('--repo', 'octo/gamma'), ['d-g1', 'd-g2'])   # any case
        self.assertEqual(d('--repo', '300'), ['d-g1', 'd-g2'])
        self.assertEqual(d('--repo', '999'), [])
        self.assertEqual(d('--event', 'push'), ['d-a3', 'd-g1', 'd-g2'])
        self.assertEqual(d('--event', 'pull_request'), [])
        self.assertEqual(d('--state', 'ready'), ['d-a3'])
        self.assertEqual(d('--state', 'waiting'), ['d-g1'])
        self.assertEqual(d('--state', 'queued'), ['d-g2'])
        self.assertEqual(d('--limit', '2'), ['d-a3', 'd-g1'])
        self.assertEqual(d('--repo', '300', '--limit', '1'), ['d-g1'])

    def test_list_table(self):
        lines = self.ctl('list').stdout.splitlines()
        self.assertRegex(lines[0], r'^ID\s+REPO\s+EVENT\s+ACTION\s+ATT\s+STATE\s+AGE\s+'
                                   r'RECEIVED \(UTC\)\s+DELIVERY$')
        self.assertEqual(len(lines), 4)
        self.assertRegex(lines[2], r'^%d\s+Octo/Gamma\s+push\s+-\s+1\s+waiting\s+\d+s\s+'
                                   r'\d{4}-\d\d-\d\d \d\d:\d\d:\d\dZ\s+d-g1$' % self.ids['d-g1'])
        # columns line up: every row starts its REPO at the header's column
        col = lines[0].index('REPO')
        self.assertTrue(all(line[col - 1] == ' ' and line[col] != ' ' for line in lines))
        self.assertEqual(self.ctl('list', '--repo', '5').stdout.splitlines()[1],
                         '(no queued events)')

    def test_dlq_list(self):
        rows = self.jlines('dlq', 'list')
        self.assertEqual([r['delivery'] for r in rows], ['d-a1', 'd-a2', 'd-b1'])
        a1, a2, b1 = rows
        self.assertEqual(a1['reason'], 'GitHub answered 422: No commit found for SHA')
        self.assertRegex(a1['dead_at'], r'^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$')
        self.assertEqual((b1['repo'], b1['event'], b1['action'], b1['attempts'], b1['step'],
                          b1['check_state'], b1['check_desc']),
                         # one retried attempt, and the one that dead-lettered it
                         ('octo/beta', 'pull_request', 'opened', 2, 'checked', 'failure',
                          'tests failed: 3 of 10'))
        self.assertEqual(a1['id'], self.ids['d-a1'])
        d = lambda *a: [r['delivery'] for r in self.jlines('dlq', 'list', *a)]
        self.assertEqual(d('--reason', 'NOT FOUND'), ['d-b1'])
        self.assertEqual(d('--reason', 'nothing like this'), [])
        self.assertEqual(d('--repo', 'OCTO/ALPHA'), ['d-a1', 'd-a2'])
        self.assertEqual(d('--repo', '200'), ['d-b1'])
        self.assertEqual(d('--event', 'pull_request'), ['d-b1'])
        self.assertEqual(d('--since', '2h'), ['d-a2', 'd-b1'])
        self.assertEqual(d('--since', '10m'), ['d-a2'])
        self.assertEqual(d('--older-than', '1d'), ['d-a1'])
        self.assertEqual(d('--since', '4d', '--older-than', '30m'), ['d-a1', 'd-b1'])
        since = time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime(time.time() - 7200))
        self.assertEqual(d('--since', since), ['d-a2', 'd-b1'])
        self.assertEqual(d('--limit', '1'), ['d-a1'])
        lines = self.ctl('dlq', 'list').stdout.splitlines()
        self.assertRegex(lines[0], r'^ID\s+REPO\s+EVENT\s+ACTION\s+ATT\s+DEAD AT \(UTC\)\s+REASON$')
        self.assertRegex(lines[3], r'^%d\s+octo/beta\s+pull_request\s+opened\s+2\s+'
                                   r'\d{4}-\d\d-\d\d \d\d:\d\d:\d\dZ\s+permanent: 404 Not Found$'
                         % self.ids['d-b1'])

    def test_dlq_show(self):
        b1 = self.ids['d-b1']
        out = self.ctl('dlq', 'show', b1).stdout
        for pat in [r'^dead letter %d$' % b1, r'repository\s+octo/beta \(id 200\)',
                    r'event\s+pull_request \(action opened\)', r'delivery\s+d-b1 \(hook 7\)',
                    r'attempts\s+2', r'step\s+checked', r'check\s+failure: tests failed: 3 of 10',
                    r'reason\s+permanent: 404 Not Found', r'history \(2\)',
                    r'\d\d:\d\d:\d\d\.\d{3}Z\s+new\s+HTTP 502 from GitHub',
                    r'payload \(%d bytes\)' % len(PR_PAYLOAD.encode()),
                    r'number\s+17', r'title\s+Make it faster$', r'head_sha\s+(feedbeef){5}',
                    r'head_ref\s+speed', r'base_ref\s+main', r'user\s+mona']:
            self.assertRegex(out, '(?m)' + pat)
        a1 = self.ctl('dlq', 'show', self.ids['d-a1']).stdout
        for pat in [r'ref\s+refs/heads/main', r'after\s+(c0ffee00){5}', r'pusher\s+octocat',
                    r'head_commit\s+Fix the thing$', r'commits\s+1']:
            self.assertRegex(a1, '(?m)' + pat)
        raw = self.ctl('dlq', 'show', b1, '--payload', binary=True).stdout
        self.assertEqual(raw, PR_PAYLOAD.encode())
        j = json.loads(self.ctl('dlq', 'show', b1, '--json').stdout)
        self.assertEqual((j['id'], j['repo'], j['reason'], j['step'], j['installation_id']),
                         (b1, 'octo/beta', 'permanent: 404 Not Found', 'checked', 42))
        self.assertEqual([h['error'] for h in j['history']],
                         ['HTTP 502 from GitHub', 'permanent: 404 Not Found'])
        self.assertEqual(j['summary']['number'], '17')
        self.assertEqual(j['summary']['bytes'], len(PR_PAYLOAD.encode()))
        self.assertNotIn('payload', j)
        j = json.loads(self.ctl('dlq', 'show', b1, '--json', '--payload').stdout)
        self.assertEqual(j['payload'], json.loads(PR_PAYLOAD))
        r = self.ctl('dlq', 'show', 999, rc=1)
        self.assertEqual(r.stderr, 'hookqctl: no dead letter with id 999\n')
        # a queued event is not a dead letter
        self.ctl('dlq', 'show', self.ids['d-a3'], rc=1)

    def test_read_only_commands_change_nothing(self):
        before = self.data_digest()
        for args in [['stats'], ['list'], ['dlq', 'list'], ['dlq', 'show', self.ids['d-a1']],
                     ['dlq', 'export']]:
            self.ctl(*args)
        self.assertEqual(self.data_digest(), before)

    @lmdb_only
    def test_read_only_beside_a_writer(self):
        """A process holding LMDB's write lock does not stop inspection; a
        replay waits for the lock and then goes through."""
        hold = subprocess.Popen([FIX, self.db, 'hold'], stdin=subprocess.PIPE,
                                stdout=subprocess.PIPE, text=True)
        try:
            self.assertEqual(hold.stdout.readline(), 'holding\n')
            self.assertEqual(json.loads(self.ctl('stats', '--json').stdout)['dead'], 3)
            self.assertEqual(len(self.jlines('list')), 3)
            self.assertEqual(len(self.jlines('dlq', 'list')), 3)
            self.ctl('dlq', 'show', self.ids['d-a1'])
            self.assertIn('end 3', self.ctl('dlq', 'export').stdout)
            replay = subprocess.Popen([CTL, '--db', self.db, 'dlq', 'replay', str(self.ids['d-a1'])],
                                      stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            time.sleep(0.5)
            self.assertIsNone(replay.poll(), 'replay did not wait for the write lock')
        finally:
            hold.stdin.close()
            hold.wait(timeout=10)
        out, err = replay.communicate(timeout=30)
        self.assertEqual(replay.returncode, 0, err)
        self.assertIn('replayed %d' % self.ids['d-a1'], out)


class TestChanges(CtlCase):
    def setUp(self):
        super().setUp()
        self.ids = self.populate()

    def dead(self):
        return [r['delivery'] for r in self.jlines('dlq', 'list')]

    def queued(self, repo):
        return self.jlines('list', '--repo', repo)

    def test_replay_by_id(self):
        a1 = self.ids['d-a1']
        before = self.data_digest()
        r = self.ctl('dlq', 'replay', a1, '--dry-run')
        self.assertEqual(r.stdout, 'would replay %d (octo/alpha push delivery d-a1)\n' % a1)
        self.assertEqual(self.data_digest(), before)
        r = self.ctl('dlq', 'replay', a1)
        self.assertEqual(r.stdout, 'replayed %d (octo/alpha push delivery d-a1)\n' % a1)
        self.assertEqual(self.dead(), ['d-a2', 'd-b1'])
        rows = self.queued('100')
        # at the tail of its repository's FIFO, same id and delivery, attempts 0
        self.assertEqual([r['delivery'] for r in rows], ['d-a3', 'd-a1'])
        self.assertEqual((rows[1]['id'], rows[1]['attempts'], rows[1]['state']),
                         (a1, 0, 'queued'))
        self.assertNotIn('step', rows[1])
        r = self.ctl('dlq', 'replay', a1, rc=1)
        self.assertIn('no dead letter with id %d' % a1, r.stderr)

    def test_replay_resets_attempts_and_step(self):
        b1 = self.ids['d-b1']
        self.ctl('dlq', 'replay', b1)
        row, = self.queued('octo/beta')
        self.assertEqual((row['delivery'], row['attempts'], row['state'], row['position']),
                         ('d-b1', 0, 'ready', 0))
        self.assertNotIn('step', row)
        self.assertNotIn('not_before', row)

    def test_replay_unknown_id_changes_nothing(self):
        before = self.data_digest()
        r = self.ctl('dlq', 'replay', self.ids['d-a1'], 999, 998, rc=1)
        self.assertIn('no dead letter with id 999', r.stderr)
        self.assertIn('no dead letter with id 998', r.stderr)
        self.assertIn('nothing was changed', r.stderr)
        self.assertEqual(r.stdout, '')
        self.assertEqual(self.data_digest(), before)
        self.assertEqual(self.dead(), ['d-a1', 'd-a2', 'd-b1'])

    def test_replay_several_ids_and_repeats(self):
        a1, a2 = self.ids['d-a1'], self.ids['d-a2']
        r = self.ctl('dlq', 'replay', a2, a1, a2)
        self.assertEqual(r.stdout.splitlines(), [
            'replayed %d (octo/alpha push delivery d-a2)' % a2,
            'replayed %d (octo/alpha push delivery d-a1)' % a1])
        self.assertEqual([r['delivery'] for r in self.queued('100')], ['d-a3', 'd-a2', 'd-a1'])

    def test_replay_by_filter(self):
        r = self.ctl('dlq', 'replay', '--reason', '404', '--dry-run')
        self.assertEqual(r.stdout, 'would replay %d (octo/beta pull_request/opened delivery '
                                   'd-b1)\n' % self.ids['d-b1'])
        self.assertEqual(len(self.dead()), 3)
        r = self.ctl('dlq', 'replay', '--event', 'nothing', rc=1)
        self.assertIn('no dead letter matches', r.stderr)
        r = self.ctl('dlq', 'replay', '--repo', 'octo/alpha', '--limit', '1')
        self.assertEqual(r.stdout.splitlines(),
                         ['replayed %d (octo/alpha push delivery d-a1)' % self.ids['d-a1']])
        self.assertEqual(self.dead(), ['d-a2', 'd-b1'])
        self.ctl('dlq', 'replay', '--older-than', '30m')
        self.assertEqual(self.dead(), ['d-a2'])

    def test_replay_all(self):
        before = self.data_digest()
        r = self.ctl('dlq', 'replay', '--all', '--dry-run')
        self.assertEqual(len(r.stdout.splitlines()), 3)
        self.assertTrue(all(l.startswith('would replay ') for l in r.stdout.splitlines()))
        self.assertEqual(self.data_digest(), before)
        r = self.ctl('dlq', 'replay', '--all')
        self.assertEqual([l.split()[1] for l in r.stdout.splitlines()],
                         [str(self.ids[d]) for d in ['d-a1', 'd-a2', 'd-b1']])
        self.assertEqual(self.dead(), [])
        # replayed in id order, so each repository keeps its original order
        self.assertEqual([r['delivery'] for r in self.queued('100')], ['d-a3', 'd-a1', 'd-a2'])
        st = json.loads(self.ctl('stats', '--json').stdout)
        self.assertEqual((st['queued'], st['dead']), (6, 0))
        r = self.ctl('dlq', 'replay', '--all', rc=1)
        self.assertIn('no dead letter matches', r.stderr)

    def test_purge(self):
        a1, b1, a2 = self.ids['d-a1'], self.ids['d-b1'], self.ids['d-a2']
        before = self.data_digest()
        r = self.ctl('dlq', 'purge', '--older-than', '1d', '--dry-run')
        self.assertEqual(r.stdout, 'would purge %d (octo/alpha push delivery d-a1)\n' % a1)
        self.assertEqual(self.data_digest(), before)
        r = self.ctl('dlq', 'purge', '--older-than', '1d')
        self.assertEqual(r.stdout, 'purged %d (octo/alpha push delivery d-a1)\n' % a1)
        self.assertEqual(self.dead(), ['d-a2', 'd-b1'])
        self.ctl('dlq', 'show', a1, rc=1)
        r = self.ctl('dlq', 'purge', '--older-than', '1d', rc=1)
        self.assertIn('no dead letter matches', r.stderr)
        r = self.ctl('dlq', 'purge', b1, 12345, rc=1)
        self.assertIn('no dead letter with id 12345', r.stderr)
        self.assertEqual(self.dead(), ['d-a2', 'd-b1'])
        self.assertEqual(self.ctl('dlq', 'purge', b1).stdout,
                         'purged %d (octo/beta pull_request/opened delivery d-b1)\n' % b1)
        self.ctl('dlq', 'purge', '--all')
        self.assertEqual(self.dead(), [])
        # queued events are untouched by purge
        self.assertEqual(len(self.jlines('list')), 3)
        self.ctl('dlq', 'purge', a2, rc=1)


class TestExportImport(CtlCase):
    FIELDS = ['repo_id', 'hook_id', 'installation_id', 'received_at_ms', 'not_before_ms',
              'dead_at_ms', 'attempts', 'step', 'check_state', 'check_run_id', 'repo',
              'delivery', 'event',
              'action', 'check_desc', 'history', 'reason', 'payload_b64']

    def records(self, text):
        lines = text.splitlines()
        self.assertEqual(lines[0], 'hookq-dlq-export 1')
        self.assertEqual(lines[-1], 'end %d' % (len(lines) - 2))
        return [json.loads(l) for l in lines[1:-1]]

    def test_round_trip(self):
        ids = self.populate()
        out = self.ctl('dlq', 'export').stdout
        recs = self.records(out)
        self.assertEqual([r['delivery'] for r in recs], ['d-a1', 'd-a2', 'd-b1'])
        for r in recs:
            self.assertEqual(set(self.FIELDS) | {'id'}, set(r))
        b1 = recs[2]
        self.assertEqual(base64.b64decode(b1['payload_b64']), PR_PAYLOAD.encode())
        self.assertEqual((b1['id'], b1['attempts'], b1['step'], b1['check_state']),
                         (ids['d-b1'], 2, 2, 2))
        path = os.path.join(self.tmp, 'dlq.export')
        r = self.ctl('dlq', 'export', path)
        self.assertEqual(r.stdout, '')
        self.assertIn('exported 3 dead letters to ' + path, r.stderr)
        with open(path) as f:
            self.assertEqual(f.read(), out)
        self.assertEqual([n for n in os.listdir(self.tmp) if '.tmp.' in n], [])

        other = os.path.join(self.tmp, 'other')
        r = self.ctl('dlq', 'import', path, db=other)
        self.assertEqual(r.stdout.splitlines()[-1], 'imported 3 dead letters, 0 duplicates skipped')
        self.assertRegex(r.stdout.splitlines()[0],
                         r'^imported %d as \d+ \(octo/alpha push delivery d-a1\)$' % ids['d-a1'])
        again = self.records(self.ctl('dlq', 'export', db=other).stdout)
        strip = lambda rs: [{k: r[k] for k in self.FIELDS} for r in rs]
        self.assertEqual(strip(again), strip(recs))
        raw = self.ctl('dlq', 'show', again[2]['id'], '--payload', db=other, binary=True).stdout
        self.assertEqual(raw, PR_PAYLOAD.encode())
        # a second import finds them all there
        r = self.ctl('dlq', 'import', '-', db=other, input=out)
        self.assertEqual(r.stdout.splitlines()[-1], 'imported 0 dead letters, 3 duplicates skipped')
        self.assertIn('duplicate %d (octo/beta' % ids['d-b1'], r.stdout)
        self.assertEqual(len(self.jlines('dlq', 'list', db=other)), 3)
        # imported dead letters replay like any other
        self.ctl('dlq', 'replay', '--repo', 'octo/beta', db=other)
        row, = self.jlines('list', db=other)
        self.assertEqual((row['delivery'], row['attempts']), ('d-b1', 0))

    def test_export_filters_and_empty(self):
        self.populate()
        recs = self.records(self.ctl('dlq', 'export', '--repo', 'octo/alpha').stdout)
        self.assertEqual([r['delivery'] for r in recs], ['d-a1', 'd-a2'])
        self.assertEqual(self.records(self.ctl('dlq', 'export', '--reason', 'zzz').stdout), [])
        empty = os.path.join(self.tmp, 'empty')
        r = self.ctl('dlq', 'import', db=empty, input='hookq-dlq-export 1\nend 0\n')
        self.assertIn('imported 0 dead letters', r.stdout)
        self.assertEqual(self.ctl('dlq', 'export', db=empty).stdout,
                         'hookq-dlq-export 1\nend 0\n')

    def test_import_refuses_bad_input(self):
        self.populate()
        good = self.ctl('dlq', 'export').stdout
        lines = good.splitlines(keepends=True)
        target = os.path.join(self.tmp, 'target')
        bad_record = json.loads(lines[1])
        bad_record['step'] = 9
        too_long = json.loads(lines[1])
        too_long['reason'] = 'x' * 5000
        cases = [
            ('', 'not a hookq dead-letter export'),
            ('hello\n', 'not a hookq dead-letter export'),
            ('hookq-dlq-export 2\nend 0\n', "export format version '2'"),
            (''.join(lines[:-1]), 'truncated: no end line after 3 records'),
            (''.join(lines[:2]) + 'end 2\n', 'the end line says'),
            (good + 'extra\n', 'text after the end line'),
            (lines[0] + '{"repo_id": 1}\n' + 'end 1\n', "malformed record (field"),
            (lines[0] + 'not json\n' + 'end 1\n', 'malformed record'),
            (lines[0] + lines[1] + json.dumps(bad_record) + '\nend 2\n', "field 'step'"),
            (lines[0] + json.dumps(too_long) + '\nend 1\n', "field 'reason'"),
        ]
        for text, msg in cases:
            with self.subTest(msg=msg):
                r = self.ctl('dlq', 'import', db=target, input=text, rc=2)
                self.assertIn(msg, r.stderr)
                self.assertFalse(os.path.exists(target), 'import touched the database')
        # the same checks hold for an existing database: nothing is imported
        self.fx('enqueue', 1, 'x/y', 'push', '', 'dx', db=target)
        r = self.ctl('dlq', 'import', db=target, input=''.join(lines[:-1]), rc=2)
        self.assertEqual(self.jlines('dlq', 'list', db=target), [])
        r = self.ctl('dlq', 'import', os.path.join(self.tmp, 'nope'), db=target, rc=2)
        self.assertIn('cannot open', r.stderr)
        r = self.ctl('dlq', 'import', '--dry-run', db=target, input=good)
        self.assertEqual(r.stdout, 'would import 3 dead letters\n')
        self.assertEqual(self.jlines('dlq', 'list', db=target), [])

    def test_check_run_id_round_trips_and_old_files_import(self):
        """Export writes the check run's id, import keeps it; a record without
        it (an export from before check runs) imports with none; a bad one is
        refused naming the field."""
        self.fx('enqueue', 500, 'octo/runs', 'push', '', 'd-r1', 7)
        self.fx('run', 500, 4711000001)
        self.fx('dead', 500, 'hookq gave up: HTTP 422')
        self.fx('enqueue', 500, 'octo/runs', 'push', '', 'd-r2', 7)
        self.fx('dead', 500, 'HTTP 404')
        out = self.ctl('dlq', 'export').stdout
        recs = self.records(out)
        self.assertEqual([(r['delivery'], r['check_run_id']) for r in recs],
                         [('d-r1', 4711000001), ('d-r2', 0)])
        other = os.path.join(self.tmp, 'other')
        self.ctl('dlq', 'import', '-', db=other, input=out)
        rows = self.jlines('dlq', 'list', db=other)
        self.assertEqual([(r['delivery'], r.get('check_run_id')) for r in rows],
                         [('d-r1', 4711000001), ('d-r2', None)])
        again = self.records(self.ctl('dlq', 'export', db=other).stdout)
        self.assertEqual([r['check_run_id'] for r in again], [4711000001, 0])

        head, first, _, _ = out.splitlines()
        old = json.loads(first)
        del old['check_run_id']
        older = os.path.join(self.tmp, 'older')
        r = self.ctl('dlq', 'import', '-', db=older,
                     input='%s\n%s\nend 1\n' % (head, json.dumps(old)))
        self.assertEqual(r.stdout.splitlines()[-1], 'imported 1 dead letters, 0 duplicates skipped')
        row, = self.jlines('dlq', 'list', db=older)
        self.assertEqual(row['delivery'], 'd-r1')
        self.assertNotIn('check_run_id', row)
        rec, = self.records(self.ctl('dlq', 'export', db=older).stdout)
        self.assertEqual(rec['check_run_id'], 0)

        target = os.path.join(self.tmp, 'target')
        for bad in (-1, 1.5, '4711', 2 ** 53 + 2, None):
            with self.subTest(check_run_id=bad):
                rec = json.loads(first)
                rec['check_run_id'] = bad
                r = self.ctl('dlq', 'import', db=target, rc=2,
                             input='%s\n%s\nend 1\n' % (head, json.dumps(rec)))
                self.assertIn("malformed record (field 'check_run_id')", r.stderr)
                self.assertFalse(os.path.exists(target), 'import touched the database')


class TestSignals(CtlCase):
    def test_sigint_stops_a_long_listing(self):
        self.fx('bulk', 20000, 50)
        for args in [['list'], ['list', '--json']]:
            with self.subTest(args=args):
                p = subprocess.Popen([CTL, '--db', self.db] + args, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE)
                time.sleep(0.5)  # the pipe is full long before the end: it waits on us
                self.assertIsNone(p.poll())
                p.send_signal(signal.SIGINT)
                out, err = p.communicate(timeout=30)
                self.assertEqual(p.returncode, 130, err)
                self.assertIn(b'interrupted', err)
                self.assertLess(len(out.splitlines()), 20000)

    def many_dead(self, n):
        """n dead letters: one made by qfixture, exported, and imported again
        under n deliveries (one commit each, far faster than n qfixture runs)."""
        self.fx('enqueue', 1, 'octo/many', 'push', '', 'm-0', 7)
        self.fx('dead', 1, 'HTTP 500 from GitHub')
        head, rec, _ = self.ctl('dlq', 'export').stdout.splitlines()
        rec = json.loads(rec)
        lines = [head]
        for i in range(1, n):
            rec['delivery'] = 'm-%d' % i
            lines.append(json.dumps(rec))
        lines.append('end %d' % (n - 1))
        self.ctl('dlq', 'import', input='\n'.join(lines) + '\n')

    def test_closed_reader_ends_quietly(self):
        """hookqctl dlq list | head: the reader takes one line and goes away.
        hookqctl stops at once, says nothing, and exits 141 (--help), also
        when its parent left SIGPIPE ignored (restore_signals=False: Python
        ignores it, and the child then inherits that)."""
        self.many_dead(2000)  # some 200 KB of table: far more than a pipe holds
        for args, first in [(['dlq', 'list'], 'ID '), (['dlq', 'list', '--json'], '{"id":'),
                            (['dlq', 'export'], 'hookq-dlq-export 1'),
                            (['dlq', 'replay', '--all', '--dry-run'], 'would replay '),
                            (['dlq', 'purge', '--repo', 'octo/many', '--dry-run'],
                             'would purge ')]:
            for restore in [True, False]:
                with self.subTest(args=args, sigpipe='default' if restore else 'ignored'):
                    p = subprocess.Popen([CTL, '--db', self.db] + args, stdout=subprocess.PIPE,
                                         stderr=subprocess.PIPE, restore_signals=restore)
                    self.assertTrue(p.stdout.readline().decode().startswith(first))
                    p.stdout.close()
                    closed = time.monotonic()
                    err = p.stderr.read()
                    p.wait(timeout=30)
                    self.assertLess(time.monotonic() - closed, 5, 'slow to notice the reader left')
                    self.assertEqual((p.returncode, err), (141, b''))
        self.assertEqual(len(self.jlines('dlq', 'list')), 2000)  # the dry runs changed nothing
        # the same in a shell pipeline, as a script would see it
        r = subprocess.run(['bash', '-c', '"$0" --db "$1" dlq list | head -n 2; '
                            'echo "status ${PIPESTATUS[0]}"', CTL, self.db],
                           capture_output=True, text=True, timeout=60)
        self.assertEqual(r.stderr, '')
        self.assertEqual(r.stdout.splitlines()[2], 'status 141')

    def test_sigterm_stops_a_long_dead_letter_listing(self):
        self.many_dead(2000)
        for args in [['dlq', 'list'], ['dlq', 'export']]:
            with self.subTest(args=args):
                p = subprocess.Popen([CTL, '--db', self.db] + args, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE)
                time.sleep(0.5)  # the pipe is full: hookqctl waits in a write
                self.assertIsNone(p.poll())
                p.send_signal(signal.SIGTERM)
                out, err = p.communicate(timeout=30)
                self.assertEqual(p.returncode, 130, err)
                # one line that says so, nothing about the write the signal cut short
                self.assertEqual(len(err.splitlines()), 1, err)
                self.assertIn(b'interrupted', err)
                self.assertLess(len(out.splitlines()), 2000)


if __name__ == '__main__':
    if PG:  # exit 77 when the cluster is missing and every case skipped
        import hqlib
        hqlib.unittest_main()
    else:
        unittest.main(verbosity=2)
