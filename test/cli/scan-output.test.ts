// `bottle scan`'s human lines: the rule id and the gist of its description, not gitleaks' prose.
// Regression for issue 20: "scan output quotes gitleaks' long rule prose".
import t from 'tap';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { bottleInProcess } from '../helpers/cli.js';
import { firstClause } from '../../lib/format.js';
import { P, UPPER32, randomSource } from '../fixtures/secrets/tokens.js';

const awsKey = `${P.akia}${randomSource(2020)(UPPER32, 16)}`;

t.test('a finding is one short line; --json keeps the full description', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'bottle-scan-out-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(join(dir, 'app.env'), `aws_key_id = ${awsKey}\n`);
  const human = await bottleInProcess(['scan', '.'], { cwd: dir });
  t.equal(human.exitCode, 1);
  t.match(human.stdout, /^app\.env:1:14: aws-access-token: Identified a pattern that may indicate AWS credentials: AKIA\S+ \(sha256:[0-9a-f]+\)\n$/);
  t.notMatch(human.stdout, /risking|data breaches/, 'not the risk prose');
  const json = await bottleInProcess(['scan', '.', '--json'], { cwd: dir });
  const [finding] = (JSON.parse(json.stdout) as { findings: Array<{ description: string }> }).findings;
  t.match(finding!.description, /^Identified a pattern that may indicate AWS credentials, risking unauthorized cloud resource access and data breaches on AWS platforms\.$/);
});

t.test('firstClause: the first clause, else cut at a word with an ellipsis', async (t) => {
  t.equal(firstClause('Uncovered a GitHub Personal Access Token, potentially leading to exposure.'), 'Uncovered a GitHub Personal Access Token');
  t.equal(firstClause('Found a Sentry.io Access Token (old format), risking access.'), 'Found a Sentry.io Access Token (old format)', 'a dot inside a word is no clause end');
  t.equal(firstClause('AWS access key id'), 'AWS access key id');
  t.equal(
    firstClause('Cisco Meraki is a cloud-managed IT solution that provides networking, security, and device management.'),
    'Cisco Meraki is a cloud-managed IT solution that provides…',
  );
  t.ok(firstClause('x'.repeat(200)).length <= 60, 'one long word is cut too');
});
