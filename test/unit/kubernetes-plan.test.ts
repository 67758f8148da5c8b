// The Kubernetes plan (on paper: docs/kubernetes.md): every object valid against the Kubernetes
// OpenAPI schema (kubernetes-models), and SPEC §12's invariants checked on the objects themselves.
import t from 'tap';
import { ConfigMap, Namespace, Pod, Secret, Service } from 'kubernetes-models/v1';
import { NetworkPolicy } from 'kubernetes-models/networking.k8s.io/v1';
import type { IPod } from 'kubernetes-models/v1';
import type { INetworkPolicy } from 'kubernetes-models/networking.k8s.io/v1';
import { BUNDLE_ALIASES } from '../../lib/backends/bundle/names.js';
import { bundleDaemons } from '../../lib/backends/bundle/plan.js';
import { agentEnv, dockerPlan } from '../../lib/backends/docker/index.js';
import { kubernetesNames, kubernetesObjects, type KubernetesPlan, kubernetesPlan, withValues } from '../../lib/backends/kubernetes/plan.js';
import { policyTextFromPlan } from '../../lib/lifecycle/policy.js';
import { loadPolicy } from '../../lib/policy/index.js';
import { budgetFileText } from '../../lib/usage/budget.js';
import { bottlePaths } from '../../lib/state/index.js';
import { API_KEY, SECRET, sampleAgent, samplePlan } from '../fixtures/docker/bottle.js';

const slug = 'tester-abcdef';
const serviceIP = '10.96.0.42';
const opts = (over = {}) => ({ agent: sampleAgent(), serviceIP, ...over });
const gitPlan = () => samplePlan({
  git: [
    { name: 'origin', upstream: 'git@github.test:o/r.git', identity: '/keys/id_ed25519', review: { holdMs: 60_000 } },
    { name: 'mirror', upstream: 'https://git.test/o/r.git' },
  ],
  supervise: false,
  budget: { usd: 5, warnAt: 0.8 },
  prices: { 'claude-test': { input: 1, output: 2, cacheRead: 0.1, cacheWrite: 1.25 } },
});
const variants: Array<[string, () => KubernetesPlan]> = [
  ['sample plan', () => kubernetesPlan(samplePlan(), slug, opts())],
  ['git remotes, review, budget, no supervise', () => kubernetesPlan(gitPlan(), slug, opts())],
  ['given namespace, RuntimeClass, oauth-token', () =>
    kubernetesPlan(samplePlan({ auth: { mode: 'oauth-token', from: 'manifest' } }), slug, opts({ namespace: 'agents', runtimeClassName: 'gvisor' }))],
];

const models = { Namespace, ConfigMap, Secret, Pod, Service, NetworkPolicy } as const;
const envOf = (pod: IPod): Record<string, string | undefined> =>
  Object.fromEntries((pod.spec!.containers[0]!.env ?? []).map((e) => [e.name, e.value]));
const containersOf = (pod: IPod) => [...(pod.spec!.initContainers ?? []), ...pod.spec!.containers];
// Whether a NetworkPolicy's podSelector picks a pod (matchLabels is all the plan uses).
const selects = (np: INetworkPolicy, pod: IPod): boolean =>
  np.spec?.podSelector?.matchExpressions === undefined &&
  Object.entries(np.spec?.podSelector?.matchLabels ?? {}).every(([k, v]) => pod.metadata!.labels?.[k] === v);
// Every key path in a JSON value, as `a.b.c`.
const keyPaths = (v: unknown, at = ''): string[] =>
  v && typeof v === 'object' ? Object.entries(v).flatMap(([k, x]) => [`${at}${k}`, ...keyPaths(x, `${at}${k}.`)]) : [];

t.test('every object is valid against the Kubernetes OpenAPI schema', async (t) => {
  for (const [what, make] of variants) {
    const objects = kubernetesObjects(make());
    for (const o of objects) {
      const Model = models[o.kind as keyof typeof models];
      t.ok(Model, `${what}: ${o.kind} is a kind the test knows`);
      t.doesNotThrow(() => new (Model as unknown as new (x: unknown) => { validate(): void })(o).validate(), `${what}: ${o.kind} ${o.metadata?.name}`);
    }
    t.same(new Set(objects.map((o) => o.metadata?.namespace ?? o.metadata?.name)).size, 1, `${what}: one namespace`);
  }
});

t.test('names, labels, namespace', async (t) => {
  const kp = kubernetesPlan(samplePlan(), slug, opts());
  t.equal(kp.namespace?.metadata?.name, 'bottle-tester-abcdef');
  t.equal(kp.namespace?.metadata?.labels?.['pod-security.kubernetes.io/enforce'], 'restricted', 'pods must pass Pod Security "restricted"');
  t.equal(kp.agentPod.metadata?.name, 'bottle-tester-abcdef-agent');
  t.equal(kp.bundlePod.metadata?.name, 'bottle-tester-abcdef-sidecars');
  for (const [pod, service] of [[kp.agentPod, 'agent'], [kp.bundlePod, 'sidecars']] as const) {
    t.match(pod.metadata?.labels, {
      'com.docker.compose.project': 'bottle-tester-abcdef', 'com.docker.compose.service': service,
      'dev.bottle.slug': slug, 'dev.bottle.agent': 'tester', 'dev.bottle.backend': 'kubernetes',
    });
  }
  const given = kubernetesPlan(samplePlan(), slug, opts({ namespace: 'agents' }));
  t.equal(given.namespace, undefined, 'a given namespace is not created');
  t.ok(kubernetesObjects(given).every((o) => o.metadata?.namespace === 'agents'));
  t.throws(() => kubernetesNames(`${'a'.repeat(50)}-abcdef`), /not a DNS label/, 'a Service name over 63 characters');
  t.throws(() => kubernetesNames('under_score-abcdef'), /not a DNS label/);
});

t.test('no Secret reference anywhere in the agent pod (invariants 2, 3)', async (t) => {
  for (const [what, make] of variants) {
    const kp = make();
    const paths = keyPaths(kp.agentPod);
    t.same(paths.filter((p) => /(^|\.)(secretKeyRef|secretRef|secret|serviceAccountToken|csi)$/.test(p)), [], `${what}: no secret source`);
    const text = JSON.stringify(kp.agentPod);
    for (const name of [kp.names.routes, kp.names.files]) t.notMatch(text, name, `${what}: ${name} not named in the agent pod`);
    t.notMatch(text, 'ca.key');
    // Only the bundle pod refers to the Secrets.
    t.match(JSON.stringify(kp.bundlePod), kp.names.routes);
  }
});

t.test('pods: no token, non-root, no privilege, no capabilities, seccomp', async (t) => {
  for (const [what, make] of variants) {
    const kp = make();
    for (const pod of [kp.agentPod, kp.bundlePod]) {
      const spec = pod.spec!;
      t.equal(spec.automountServiceAccountToken, false, `${what}: ${pod.metadata?.name} mounts no service-account token`);
      t.equal(spec.securityContext?.runAsNonRoot, true);
      t.not(spec.securityContext?.runAsUser, 0);
      t.equal(spec.securityContext?.seccompProfile?.type, 'RuntimeDefault');
      t.notOk(spec.hostNetwork || spec.hostPID || spec.hostIPC, 'no host namespaces');
      for (const c of containersOf(pod)) {
        t.match(c.securityContext, {
          runAsNonRoot: true, allowPrivilegeEscalation: false, privileged: false, readOnlyRootFilesystem: true, capabilities: { drop: ['ALL'] },
        }, `${what}: ${pod.metadata?.name}/${c.name}`);
        t.equal(c.securityContext?.capabilities?.add, undefined, 'adds no capability');
        t.equal(c.ports?.some((p) => p.hostPort !== undefined) ?? false, false, 'publishes no host port');
      }
    }
  }
});

t.test('network: the agent reaches only the bundle pod on its three ports (invariant 1)', async (t) => {
  for (const [what, make] of variants) {
    const kp = make();
    const forAgent = kp.networkPolicies.filter((np) => selects(np, kp.agentPod));
    t.ok(forAgent.some((np) => np.spec!.policyTypes?.includes('Egress') && np.spec!.policyTypes?.includes('Ingress') && !np.spec!.egress && !np.spec!.ingress),
      `${what}: a default-deny policy covers the agent`);
    const egress = forAgent.flatMap((np) => np.spec!.egress ?? []);
    t.same(egress, [{
      to: [{ podSelector: { matchLabels: { 'dev.bottle.slug': slug, 'com.docker.compose.service': 'sidecars' } } }],
      ports: [{ protocol: 'TCP', port: 8888 }, { protocol: 'TCP', port: 9418 }, { protocol: 'TCP', port: 9100 }],
    }], `${what}: the agent's only egress rule (no DNS: the aliases are in /etc/hosts)`);
    t.same(forAgent.flatMap((np) => np.spec!.ingress ?? []), [], 'nothing reaches the agent over the network');
    // The bundle alone reaches out: every egress rule without a peer or port list selects it only.
    const open = kp.networkPolicies.filter((np) => (np.spec!.egress ?? []).some((r) => !r.to?.length || !r.ports?.length));
    t.same(open.map((np) => [selects(np, kp.bundlePod), selects(np, kp.agentPod)]), [[true, false]], `${what}: unrestricted egress for the bundle only`);
    const toBundle = kp.networkPolicies.filter((np) => selects(np, kp.bundlePod)).flatMap((np) => np.spec!.ingress ?? []);
    t.same(toBundle.map((r) => [r.from, r.ports?.map((p) => p.port)]),
      [[[{ podSelector: { matchLabels: { 'dev.bottle.slug': slug, 'com.docker.compose.service': 'agent' } } }], [8888, 9418, 9100]]],
      'the bundle accepts the agent on its three ports only');
    // Aliases and Service.
    t.same(kp.agentPod.spec!.hostAliases, [{ ip: serviceIP, hostnames: [...BUNDLE_ALIASES] }]);
    t.equal(kp.agentPod.spec!.dnsPolicy, 'None', 'no cluster resolver in the agent pod');
    t.same(kp.agentPod.spec!.dnsConfig?.nameservers, ['127.0.0.1']);
    t.same(kp.service.spec!.ports?.map((p) => [p.name, p.port, p.targetPort]), [['gateway', 8888, 8888], ['git-gate', 9418, 9418], ['supervise', 9100, 9100]]);
    t.same(kp.service.spec!.selector, { 'dev.bottle.slug': slug, 'com.docker.compose.service': 'sidecars' });
    t.equal(kp.service.spec!.type, 'ClusterIP', 'not exposed outside the cluster');
  }
});

t.test('env: the agent gets exactly the Docker agent env; the bundle the Docker bundle env + secret refs', async (t) => {
  for (const mode of ['api-key', 'oauth-token'] as const) {
    const plan = samplePlan({ auth: { mode, from: 'manifest' } });
    const kp = kubernetesPlan(plan, slug, opts());
    const agent = kp.agentPod.spec!.containers[0]!;
    t.same(agent.env?.map((e) => `${e.name}=${e.value}`), agentEnv(sampleAgent(), mode), `${mode}: agent env`);
    t.ok(agent.env?.every((e) => e.valueFrom === undefined));
    const dp = dockerPlan(plan, slug, bottlePaths('/state', slug), sampleAgent(), { bundleUser: '10001:10001' });
    const bundle = kp.bundlePod.spec!.containers[0]!.env ?? [];
    t.same(bundle.filter((e) => e.value !== undefined).map((e) => `${e.name}=${e.value}`), dp.bundle.create.Env, `${mode}: bundle env`);
    t.same(bundle.filter((e) => e.valueFrom).map((e) => [e.name, e.valueFrom?.secretKeyRef?.name, e.valueFrom?.secretKeyRef?.key]),
      dp.secretNames.map((n) => [n, kp.names.routes, n]), `${mode}: route secrets by name, from the routes Secret`);
  }
  t.same(bundleDaemons(samplePlan()), { daemons: ['gateway', 'supervise'], review: false });
  t.same(bundleDaemons(gitPlan()), { daemons: ['gateway', 'git-gate'], review: true });
  const kp = kubernetesPlan(gitPlan(), slug, opts());
  const env = Object.fromEntries((kp.bundlePod.spec!.containers[0]!.env ?? []).map((e) => [e.name, e.value]));
  t.equal(env.BOTTLE_SIDECAR_DAEMONS, 'gateway,git-gate');
  t.equal(env.BOTTLE_GIT_GATE_REVIEW, '1');
  t.ok(env.BOTTLE_SUPERVISE_QUEUE_DIR, 'review keeps the queue');
  t.notOk(envOf(kp.agentPod).HTTPS_PROXY?.includes(serviceIP), 'the agent names the gateway, as in Docker');
});

t.test('Secrets hold names only; apply fills them', async (t) => {
  for (const [what, make] of variants) {
    const kp = make();
    const text = JSON.stringify(kubernetesObjects(kp));
    t.notMatch(text, SECRET, `${what}: no route secret value`);
    t.notMatch(text, API_KEY);
    t.same(Object.keys(kp.routes.stringData ?? {}), kp.secretNames);
    t.ok(Object.values({ ...kp.routes.stringData, ...kp.files.stringData }).every((v) => v === ''), 'every value empty in the plan');
    t.equal(kp.routes.data, undefined);
  }
  const kp = kubernetesPlan(gitPlan(), slug, opts());
  t.same(Object.keys(kp.files.stringData ?? {}), ['ca.crt', 'ca.key', 'identity.origin']);
  const filled = withValues(kp.routes, { ANTHROPIC_API_KEY: API_KEY, E2E_TOKEN: SECRET, OTHER: 'x' });
  t.same(filled.stringData, { ANTHROPIC_API_KEY: API_KEY, E2E_TOKEN: SECRET }, 'only the planned keys');
  t.same(kp.routes.stringData, { ANTHROPIC_API_KEY: '', E2E_TOKEN: '' }, 'the plan is not changed');
  t.throws(() => withValues(kp.routes, { E2E_TOKEN: SECRET }), /no value for ANTHROPIC_API_KEY/);
  t.same(withValues(kp.agentCA, { 'ca.crt': 'PEM' }).data, { 'ca.crt': 'PEM' });
  const mounts = kp.bundlePod.spec!.containers[0]!.volumeMounts!;
  t.match(mounts.find((m) => m.mountPath === '/bottle/git-gate/identities'), { name: 'identities', readOnly: true });
  t.match(kp.bundlePod.spec!.volumes!.find((v) => v.name === 'identities')?.secret?.items, [{ key: 'identity.origin', path: 'origin' }]);
});

t.test('config: the Docker backend\'s policy.yaml and budget.json (invariant 5: read-only in the bundle)', async (t) => {
  for (const plan of [samplePlan(), gitPlan()]) {
    const kp = kubernetesPlan(plan, slug, opts());
    const data = kp.config.data ?? {};
    t.equal(data['policy.yaml'], policyTextFromPlan(plan), 'the text start writes for the Docker backend');
    t.doesNotThrow(() => loadPolicy(data['policy.yaml']!));
    t.equal(data['budget.json'], budgetFileText(plan.budget, plan.prices));
    const policyMount = kp.bundlePod.spec!.containers[0]!.volumeMounts!.find((m) => m.mountPath === '/bottle/policy');
    t.match(policyMount, { name: 'policy', readOnly: true });
  }
  t.match(JSON.parse(kubernetesPlan(gitPlan(), slug, opts()).config.data!['upstreams.json']!), [{ name: 'origin', identityFile: '/bottle/git-gate/identities/origin' }]);
  t.throws(() => kubernetesPlan(samplePlan({ git: [{ name: 'local', upstream: '/srv/repo.git' }] }), slug, opts()), /host path/);
});

t.test('bundle: only the control container writes decisions; only sidecars holds secrets and ports', async (t) => {
  const kp = kubernetesPlan(samplePlan(), slug, opts());
  const [sidecars, control] = kp.bundlePod.spec!.containers;
  const modeOf = (c: typeof sidecars, path: string) => c?.volumeMounts?.find((m) => m.mountPath === path)?.readOnly ? 'ro' : 'rw';
  t.equal(modeOf(sidecars, '/bottle/supervise/decisions'), 'ro');
  t.equal(modeOf(control, '/bottle/supervise/decisions'), 'rw');
  t.equal(modeOf(control, '/bottle/supervise/queue'), 'ro');
  t.equal(modeOf(sidecars, '/bottle/supervise/queue'), 'rw');
  t.equal(control?.env, undefined);
  t.equal(control?.ports, undefined);
  t.notOk(control?.volumeMounts?.some((m) => m.name === 'ca' || m.name === 'identities'), 'no CA key or identity in control');
});

t.test('RuntimeClass only when asked, and only on the agent pod', async (t) => {
  const plain = kubernetesPlan(samplePlan(), slug, opts());
  t.notOk(JSON.stringify(kubernetesObjects(plain)).includes('runtimeClassName'));
  const vm = kubernetesPlan(samplePlan(), slug, opts({ runtimeClassName: 'kata' }));
  t.equal(vm.agentPod.spec!.runtimeClassName, 'kata');
  t.equal(vm.bundlePod.spec!.runtimeClassName, undefined);
});

t.test('the agent trusts the bundle CA without root: an init container builds the bundle', async (t) => {
  const kp = kubernetesPlan(samplePlan(), slug, opts());
  const init = kp.agentPod.spec!.initContainers!;
  t.equal(init.length, 1);
  t.equal(init[0]!.image, 'bottle-agent:latest');
  const mounts = kp.agentPod.spec!.containers[0]!.volumeMounts!;
  t.match(mounts.find((m) => m.mountPath === '/etc/ssl/certs/ca-certificates.crt'), { name: 'trust', subPath: 'ca-certificates.crt', readOnly: true });
  t.match(mounts.find((m) => m.mountPath === '/usr/local/share/ca-certificates/bottle-ca.crt'), { name: 'agent-ca', subPath: 'ca.crt', readOnly: true });
  t.same(Object.keys(kp.agentCA.data ?? {}), ['ca.crt'], 'the agent\'s ConfigMap holds the certificate only');
  t.same(kp.agentPod.spec!.containers[0]!.args, ['sleep', 'infinity']);
});
