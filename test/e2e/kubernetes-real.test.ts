// The Kubernetes plan on a REAL cluster: gated on a kubeconfig (and kubectl), so it skips visibly
// almost everywhere (.ci/run lets ` - real kubernetes: ` skips through). With one, it applies the
// plan to a throwaway namespace, waits for both pods, and probes invariant 1 from the agent: the
// gateway answers, the API server does not. The cluster's CNI must enforce NetworkPolicy, and
// the nodes must have the images (kind: `kind load docker-image bottle-agent:latest ...`).
import t from 'tap';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { homedir, tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { kubernetesObjects, kubernetesPlan, withValues } from '../../lib/backends/kubernetes/plan.js';
import { createCA } from '../../lib/pki/index.js';
import { run, which } from '../../lib/run/index.js';
import { API_KEY, SECRET, sampleAgent, samplePlan } from '../fixtures/docker/bottle.js';

const kubeconfig = (process.env.KUBECONFIG ?? '').split(delimiter).filter(Boolean).find((p) => existsSync(p))
  ?? (existsSync(join(homedir(), '.kube', 'config')) ? join(homedir(), '.kube', 'config') : undefined);
const kubectl = kubeconfig ? await which('kubectl') : undefined;
const skip = (!kubeconfig && 'no kubeconfig (KUBECONFIG or ~/.kube/config); the plan is checked against the OpenAPI schema in test/unit/kubernetes-plan.test.ts')
  || (!kubectl && 'kubectl is not on PATH');
t.setTimeout(10 * 60_000);

await t.test('real kubernetes: the plan comes up in a throwaway namespace; the agent reaches the gateway and nothing else', { skip }, async (t) => {
  const k = (args: string[], input?: string) => run(['kubectl', ...args], { input, probe: true, timeoutMs: 240_000 });
  const slug = `k8s-e2e-${randomBytes(3).toString('hex')}`;
  const plan = samplePlan();
  const base = { agent: sampleAgent(), imagePullPolicy: 'IfNotPresent' as const };
  const first = kubernetesPlan(plan, slug, { ...base, serviceIP: '0.0.0.0' });
  const ns = first.names.namespace;
  t.teardown(async () => void (await k(['delete', 'namespace', ns, '--wait=false'])));
  const caDir = await mkdtemp(join(tmpdir(), 'bottle-k8s-ca-'));
  t.teardown(() => rm(caDir, { recursive: true, force: true }));
  const ca = createCA(caDir);

  // Everything but the agent pod, with the values apply supplies.
  const objects = kubernetesObjects({
    ...first,
    routes: withValues(first.routes, { E2E_TOKEN: SECRET, ANTHROPIC_API_KEY: API_KEY }),
    files: withValues(first.files, { 'ca.crt': ca.certPem, 'ca.key': ca.keyPem }),
    agentCA: withValues(first.agentCA, { 'ca.crt': ca.certPem }),
  }).filter((o) => o !== first.agentPod);
  const applied = await k(['apply', '-f', '-'], JSON.stringify({ apiVersion: 'v1', kind: 'List', items: objects }));
  t.equal(applied.exitCode, 0, `apply: ${applied.stderr}`);
  const ip = (await k(['get', 'service', '-n', ns, first.names.service, '-o', 'jsonpath={.spec.clusterIP}'])).stdout.trim();
  t.match(ip, /^[0-9a-f.:]+$/, `the Service has a cluster IP (${ip})`);
  const agentPod = kubernetesPlan(plan, slug, { ...base, serviceIP: ip }).agentPod;
  t.equal((await k(['apply', '-f', '-'], JSON.stringify(agentPod))).exitCode, 0, 'agent pod applied');

  const ready = await k(['wait', '-n', ns, '--for=condition=Ready', 'pod', '--all', '--timeout=180s']);
  if (ready.exitCode !== 0) t.comment((await k(['describe', 'pods', '-n', ns])).stdout);
  t.equal(ready.exitCode, 0, `both pods Ready: ${ready.stderr}`);

  const inAgent = (script: string, ...args: string[]) => k(['exec', '-n', ns, first.names.agent, '-c', 'agent', '--', 'sh', '-c', script, 'sh', ...args]);
  t.equal((await inAgent('nc -z -w 5 gateway 8888')).exitCode, 0, 'the agent reaches the gateway by its alias');
  t.not((await inAgent('nc -z -w 5 "$KUBERNETES_SERVICE_HOST" "$KUBERNETES_SERVICE_PORT"')).exitCode, 0, 'the agent cannot reach the API server');
  // NetworkPolicy's documented exception: traffic between a pod and its own node is always
  // allowed. Whether the CNI closes it decides invariant 1's "no host" (docs/kubernetes.md).
  const hostIP = (await k(['get', 'pod', '-n', ns, first.names.agent, '-o', 'jsonpath={.status.hostIP}'])).stdout.trim();
  t.not((await inAgent('nc -z -w 5 "$1" 10250', hostIP)).exitCode, 0, `the agent cannot reach its node's kubelet (${hostIP}:10250)`);
  t.not((await inAgent('test -e /var/run/secrets/kubernetes.io/serviceaccount/token')).exitCode, 0, 'no service-account token in the agent');
  t.notMatch((await inAgent('env')).stdout, SECRET, 'no route secret in the agent env');
});
