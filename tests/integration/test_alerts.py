#!/usr/bin/env python3
"""deploy/alerts.yml: the Prometheus alert rules of schema/design.md §6.

Always: the file parses, every rule has alert, expr, for, labels.severity and
annotations.summary, every metric it names is one hookq exports (the list
below), and each thing an operator watches (queue depth, oldest ready age,
dead letters, GitHub errors, receiver 503s) has a rule.

With promtool on PATH (Debian's prometheus package): `promtool check rules`,
and `promtool test rules` on synthetic series proving each alert fires when
it should and stays quiet when it should not.

With the services built: every hookq_* family the rules use is declared on
the real /metrics of the service that exports it.
"""
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import unittest
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

try:
    import yaml
except ImportError:  # a python3 without PyYAML: Debian's python3-yaml
    sys.path.append('/usr/lib/python3/dist-packages')
    import yaml

import hqlib  # noqa: E402

SOURCE_DIR = os.environ.get(
    'HOOKQ_SOURCE_DIR',
    os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..')))
ALERTS = os.path.join(SOURCE_DIR, 'deploy', 'alerts.yml')

# The metric families the rules may use, and which service exports them
# (schema/design.md §6). `up` is Prometheus' own.
METRICS = {
    'hookq_queue_depth': 'both',
    'hookq_queue_oldest_ready_age_seconds': 'both',
    'hookq_dead_letters': 'both',
    'hookq_queue_map_used_bytes': 'both',
    'hookq_queue_map_size_bytes': 'both',
    'hookq_deliveries_total': 'receiver',
    'hookq_events_total': 'worker',
    'hookq_github_requests_total': 'worker',
    'hookq_catchup_missed_total': 'worker',
    'hookq_catchup_runs_total': 'worker',
    'up': 'prometheus',
}

# What an operator watches: each needs at least one rule over this metric.
WATCHED = ['hookq_queue_depth', 'hookq_queue_oldest_ready_age_seconds', 'hookq_dead_letters',
           'hookq_github_requests_total', 'hookq_deliveries_total', 'hookq_catchup_missed_total']

PROMQL_WORDS = {
    'sum', 'max', 'min', 'avg', 'count', 'without', 'by', 'rate', 'increase', 'delta',
    'or', 'and', 'unless', 'on', 'ignoring', 'group_left', 'group_right', 'offset', 'bool',
    'histogram_quantile', 'irate', 'deriv', 'absent', 'e', 'inf', 'nan',
}


def metric_names(expr):
    """Names of the series an expression selects: identifiers outside label
    matchers, {...}, and strings that are not PromQL's own words."""
    stripped = re.sub(r'\{[^}]*\}', '', expr)
    stripped = re.sub(r'"[^"]*"', '', stripped)
    stripped = re.sub(r'\[[^\]]*\]', '', stripped)
    # label lists of without/by (...)
    stripped = re.sub(r'\b(without|by|on|ignoring)\s*\([^)]*\)', '', stripped)
    names = set()
    for m in re.finditer(r'[A-Za-z_:][A-Za-z0-9_:]*', stripped):
        word = m.group(0)
        rest = stripped[m.end():].lstrip()
        if word.lower() in PROMQL_WORDS or rest.startswith('('):
            continue
        if re.fullmatch(r'\d+[smhdwy]', word):
            continue
        names.add(word)
    return names


def load_rules():
    with open(ALERTS, encoding='utf-8') as f:
        doc = yaml.safe_load(f)
    rules = []
    for group in doc['groups']:
        for rule in group['rules']:
            rules.append(rule)
    return doc, rules


class AlertRulesTest(unittest.TestCase):
    def test_every_rule_is_complete(self):
        doc, rules = load_rules()
        self.assertIsInstance(doc.get('groups'), list)
        self.assertGreaterEqual(len(rules), len(WATCHED))
        seen = set()
        for rule in rules:
            with self.subTest(rule=rule.get('alert')):
                self.assertRegex(rule.get('alert', ''), r'^Hookq[A-Za-z]+$')
                self.assertNotIn(rule['alert'], seen, 'alert names are unique')
                seen.add(rule['alert'])
                self.assertIsInstance(rule.get('expr'), str)
                self.assertRegex(str(rule.get('for', '')), r'^\d+[smh]$')
                self.assertIn(rule.get('labels', {}).get('severity'),
                              ('info', 'warning', 'critical'))
                annotations = rule.get('annotations', {})
                self.assertTrue(annotations.get('summary'))
                self.assertTrue(annotations.get('description'))

    def test_rules_use_only_exported_metrics(self):
        _, rules = load_rules()
        used = set()
        for rule in rules:
            names = metric_names(rule['expr'])
            self.assertTrue(names, 'no metric in %s' % rule['alert'])
            for name in names:
                self.assertIn(name, METRICS, '%s uses unknown metric %s' % (rule['alert'], name))
            used |= names
        for name in WATCHED:
            self.assertIn(name, used, 'no alert watches %s' % name)

    def test_metric_name_extraction(self):
        # The checker above must be able to fail.
        self.assertEqual(metric_names('max without (job) (hookq_queue_depth) > 10'),
                         {'hookq_queue_depth'})
        self.assertEqual(
            metric_names('sum(rate(hookq_x_total{status=~"5..|error"}[5m])) / sum(rate(y[5m]))'),
            {'hookq_x_total', 'y'})

    @unittest.skipUnless(shutil.which('promtool'),
                         'promtool not installed (Debian package prometheus)')
    def test_promtool_check_rules(self):
        out = subprocess.run(['promtool', 'check', 'rules', ALERTS], capture_output=True,
                             text=True, timeout=60)
        self.assertEqual(out.returncode, 0, out.stdout + out.stderr)
        self.assertIn('SUCCESS', out.stdout + out.stderr)

    @unittest.skipUnless(shutil.which('promtool'),
                         'promtool not installed (Debian package prometheus)')
    def test_promtool_alerts_fire(self):
        _, rules = load_rules()
        by_name = {r['alert']: r for r in rules}

        def expect(name, **labels):
            # promtool compares annotations too: take them from the file,
            # rendered the way the test's value renders them.
            ann = dict(by_name[name]['annotations'])
            ann['description'] = re.sub(r'\s+', ' ', ann['description']).strip()
            return {'exp_labels': dict({'severity': by_name[name]['labels']['severity']}, **labels),
                    'exp_annotations': ann}

        def fix_summary(exp, summary):
            exp['exp_annotations']['summary'] = summary
            return exp

        tests = [
            {   # a deep queue, seen by both services: one alert
                'interval': '1m',
                'input_series': [
                    {'series': 'hookq_queue_depth{job="hookq-receiver",instance="r"}',
                     'values': '5+0x5 2000+0x30'},
                    {'series': 'hookq_queue_depth{job="hookq-worker",instance="w"}',
                     'values': '5+0x5 2000+0x30'},
                ],
                'alert_rule_test': [
                    {'eval_time': '10m', 'alertname': 'HookqQueueDeep', 'exp_alerts': []},
                    {'eval_time': '25m', 'alertname': 'HookqQueueDeep',
                     'exp_alerts': [fix_summary(expect('HookqQueueDeep'),
                                                'hookq queue holds 2000 events')]},
                ],
            },
            {   # the oldest ready event ages: warning, then critical
                'interval': '1m',
                'input_series': [
                    {'series': 'hookq_queue_oldest_ready_age_seconds{job="hookq-worker",instance="w"}',
                     'values': '0+60x90'},
                ],
                'alert_rule_test': [
                    {'eval_time': '5m', 'alertname': 'HookqOldestReadyEventOld', 'exp_alerts': []},
                    {'eval_time': '20m', 'alertname': 'HookqOldestReadyEventOld',
                     'exp_alerts': [fix_summary(expect('HookqOldestReadyEventOld'),
                                                'a ready hookq event has waited 20m 0s')]},
                    {'eval_time': '20m', 'alertname': 'HookqOldestReadyEventStale',
                     'exp_alerts': []},
                    {'eval_time': '70m', 'alertname': 'HookqOldestReadyEventStale',
                     'exp_alerts': [fix_summary(expect('HookqOldestReadyEventStale'),
                                                'a ready hookq event has waited 1h 10m 0s')]},
                ],
            },
            {   # a dead letter appears
                'interval': '1m',
                'input_series': [
                    {'series': 'hookq_events_total{job="hookq-worker",instance="w",outcome="dead"}',
                     'values': '0+0x30 1+0x30'},
                    {'series': 'hookq_events_total{job="hookq-worker",instance="w",outcome="done"}',
                     'values': '0+10x60'},
                    {'series': 'hookq_dead_letters{job="hookq-worker",instance="w"}',
                     'values': '0+0x30 1+0x30'},
                ],
                'alert_rule_test': [
                    {'eval_time': '25m', 'alertname': 'HookqDeadLettersGrowing', 'exp_alerts': []},
                    {'eval_time': '40m', 'alertname': 'HookqDeadLettersGrowing',
                     'exp_alerts': [expect('HookqDeadLettersGrowing')]},
                ],
            },
            {   # dead letters present from before, none new (the gauge alone)
                'interval': '1m',
                'input_series': [
                    {'series': 'hookq_dead_letters{job="hookq-worker",instance="w"}',
                     'values': '3+0x90'},
                ],
                'alert_rule_test': [
                    {'eval_time': '80m', 'alertname': 'HookqDeadLettersGrowing', 'exp_alerts': []},
                ],
            },
            {   # GitHub: two instances, 25 of 200 requests a minute fail (12.5%)
                'interval': '1m',
                'input_series': [
                    {'series': 'hookq_github_requests_total{job="hookq-worker",instance="w",route="statuses",status="201"}',
                     'values': '0+80x60'},
                    {'series': 'hookq_github_requests_total{job="hookq-worker",instance="w",route="statuses",status="502"}',
                     'values': '0+10x60'},
                    {'series': 'hookq_github_requests_total{job="hookq-worker",instance="w",route="token",status="error"}',
                     'values': '0+10x60'},
                    {'series': 'hookq_github_requests_total{job="hookq-worker",instance="x",route="statuses",status="201"}',
                     'values': '0+95x60'},
                    {'series': 'hookq_github_requests_total{job="hookq-worker",instance="x",route="statuses",status="503"}',
                     'values': '0+5x60'},
                ],
                'alert_rule_test': [
                    {'eval_time': '30m', 'alertname': 'HookqGitHubErrorRate',
                     'exp_alerts': [fix_summary(expect('HookqGitHubErrorRate'),
                                                '12.5% of GitHub API requests fail')]},
                ],
            },
            {   # GitHub healthy: only 4xx and 2xx
                'interval': '1m',
                'input_series': [
                    {'series': 'hookq_github_requests_total{job="hookq-worker",instance="w",route="statuses",status="201"}',
                     'values': '0+80x60'},
                    {'series': 'hookq_github_requests_total{job="hookq-worker",instance="w",route="statuses",status="404"}',
                     'values': '0+40x60'},
                ],
                'alert_rule_test': [
                    {'eval_time': '30m', 'alertname': 'HookqGitHubErrorRate', 'exp_alerts': []},
                ],
            },
            {   # the receiver answers 503
                'interval': '1m',
                'input_series': [
                    {'series': 'hookq_deliveries_total{job="hookq-receiver",instance="r",result="accepted"}',
                     'values': '0+100x40'},
                    {'series': 'hookq_deliveries_total{job="hookq-receiver",instance="r",result="unavailable"}',
                     'values': '0+0x10 0+3x30'},
                ],
                'alert_rule_test': [
                    {'eval_time': '10m', 'alertname': 'HookqReceiverUnavailable', 'exp_alerts': []},
                    {'eval_time': '25m', 'alertname': 'HookqReceiverUnavailable',
                     'exp_alerts': [expect('HookqReceiverUnavailable')]},
                ],
            },
            {   # the LMDB map fills up: 70% stays quiet, 90% alerts
                'interval': '1m',
                'input_series': [
                    {'series': 'hookq_queue_map_size_bytes{job="hookq-receiver",instance="r"}',
                     'values': '1000+0x60'},
                    {'series': 'hookq_queue_map_used_bytes{job="hookq-receiver",instance="r"}',
                     'values': '700+0x20 900+0x40'},
                ],
                'alert_rule_test': [
                    {'eval_time': '15m', 'alertname': 'HookqQueueMapFilling', 'exp_alerts': []},
                    {'eval_time': '45m', 'alertname': 'HookqQueueMapFilling',
                     'exp_alerts': [fix_summary(expect('HookqQueueMapFilling'),
                                                "hookq's LMDB map is 90% full")]},
                ],
            },
            {   # a secret rotated on one side only: 3 of 4 deliveries are 401
                'interval': '1m',
                'input_series': [
                    {'series': 'hookq_deliveries_total{job="hookq-receiver",instance="r",result="accepted"}',
                     'values': '0+10x60'},
                    {'series': 'hookq_deliveries_total{job="hookq-receiver",instance="r",result="unauthorized"}',
                     'values': '0+1x20 20+30x40'},
                ],
                'alert_rule_test': [
                    {'eval_time': '15m', 'alertname': 'HookqDeliveriesUnauthorized',
                     'exp_alerts': []},
                    {'eval_time': '50m', 'alertname': 'HookqDeliveriesUnauthorized',
                     'exp_alerts': [fix_summary(expect('HookqDeliveriesUnauthorized'),
                                                '75% of webhook deliveries fail their signature')]},
                ],
            },
            {   # a service is down
                'interval': '1m',
                'input_series': [
                    {'series': 'up{job="hookq-worker",instance="127.0.0.1:9102"}',
                     'values': '1+0x5 0+0x20'},
                    {'series': 'up{job="hookq-receiver",instance="127.0.0.1:8080"}',
                     'values': '1+0x25'},
                    {'series': 'up{job="node",instance="127.0.0.1:9100"}', 'values': '0+0x25'},
                ],
                'alert_rule_test': [
                    {'eval_time': '15m', 'alertname': 'HookqTargetDown',
                     'exp_alerts': [{
                         'exp_labels': {'severity': 'critical', 'job': 'hookq-worker',
                                        'instance': '127.0.0.1:9102'},
                         'exp_annotations': {
                             'summary': 'hookq-worker on 127.0.0.1:9102 is down',
                             'description': re.sub(r'\s+', ' ', by_name['HookqTargetDown']
                                                   ['annotations']['description'])
                             .strip().replace('{{ $labels.job }}', 'hookq-worker'),
                         }}]},
                ],
            },
        ]
        with tempfile.TemporaryDirectory(prefix='hookq-alerts-') as tmp:
            shutil.copy(ALERTS, os.path.join(tmp, 'alerts.yml'))
            path = os.path.join(tmp, 'alerts_test.yml')
            with open(path, 'w', encoding='utf-8') as f:
                yaml.safe_dump({'rule_files': ['alerts.yml'], 'evaluation_interval': '1m',
                                'tests': tests}, f, sort_keys=False)
            out = subprocess.run(['promtool', 'test', 'rules', path], capture_output=True,
                                 text=True, timeout=120, cwd=tmp)
            self.assertEqual(out.returncode, 0, out.stdout + out.stderr)
            self.assertIn('SUCCESS', out.stdout + out.stderr)


def declared_families(text):
    """Metric family names of a Prometheus text exposition."""
    names = set(re.findall(r'^# TYPE (\S+) ', text, re.M))
    names |= set(re.findall(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)[{ ]', text, re.M))
    return names


def scrape(port):
    with urllib.request.urlopen('http://127.0.0.1:%d/metrics' % port, timeout=10) as resp:
        return resp.read().decode('utf-8')


class ServicesExportTest(unittest.TestCase):
    """The families the rules read are declared on the services' real
    /metrics, by the service the list above names."""

    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix='hookq-alerts-')
        self.procs = []

    def tearDown(self):
        for stop in reversed(self.procs):
            stop()
        shutil.rmtree(self.tmp, ignore_errors=True)

    def built(self, name):
        try:
            return hqlib.binary(name)
        except FileNotFoundError as e:
            self.skipTest(str(e))

    def check(self, text, who):
        declared = declared_families(text)
        for name, where in METRICS.items():
            if where in (who, 'both'):
                self.assertIn(name, declared, '%s /metrics lacks %s' % (who, name))

    def test_receiver_declares_alerted_metrics(self):
        self.built('hookq-receiver')
        rcv = hqlib.start_receiver(os.path.join(self.tmp, 'receiver'), secrets=[b'alerts'])
        self.procs.append(rcv.stop)
        self.check(scrape(rcv.port), 'receiver')

    def test_worker_declares_alerted_metrics(self):
        worker = self.built('hookq-worker')
        token = os.path.join(self.tmp, 'token')
        with open(token, 'w', encoding='utf-8') as f:
            f.write('ghp_not_a_real_token\n')
        port = hqlib.free_port()
        env = {k: v for k, v in os.environ.items() if not k.startswith('HOOKQ_')}
        env.update({
            'HOOKQ_DB': os.path.join(self.tmp, 'db'), 'HOOKQ_MAP_SIZE': '64MiB',
            'HOOKQ_TOKEN_FILE': token, 'HOOKQ_CHECK_CMD': 'true',
            # Nothing is queued, so the worker never calls this address.
            'HOOKQ_GITHUB_API': 'http://127.0.0.1:9',
            'HOOKQ_METRICS_LISTEN': '127.0.0.1:%d' % port,
        })
        os.makedirs(env['HOOKQ_DB'])
        log = open(os.path.join(self.tmp, 'worker.log'), 'wb')
        proc = subprocess.Popen([worker], env=env, stdin=subprocess.DEVNULL, stdout=log,
                                stderr=log)
        log.close()

        def stop():
            if proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
        self.procs.append(stop)
        deadline = time.monotonic() + 15
        text = None
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                text = scrape(port)
                break
            except OSError:
                time.sleep(0.05)
        if text is None:
            with open(os.path.join(self.tmp, 'worker.log'), encoding='utf-8',
                      errors='replace') as f:
                self.fail('hookq-worker served no /metrics:\n' + f.read())
        self.check(text, 'worker')


if __name__ == '__main__':
    hqlib.unittest_main()
