// A bottle on a Kubernetes cluster, as data (docs/kubernetes.md): the agent and the bundle as two
// pods, a Service exposing the bundle's three ports, NetworkPolicies that let the agent reach only
// those, the bundle's config as a ConfigMap and its secrets as Secrets mounted only into the
// bundle. Pure, like docker/plan.ts: same inputs, same objects, names of secrets only (apply
// fills the values with withValues). Not a selectable backend until a real-cluster run exists.
import type { IConfigMap, INamespace, IPod, ISecret, IService } from 'kubernetes-models/v1';
import type { INetworkPolicy } from 'kubernetes-models/networking.k8s.io/v1';
import type { AgentSpec } from '../../manifest/index.js';
import { policyTextFromPlan } from '../../lifecycle/policy.js';
import { routeVarNames, type BottlePlan } from '../../plan/index.js';
import { BUDGET_FILE, budgetFileText } from '../../usage/budget.js';
import {
  AGENT_PATHS, BUNDLE_ALIASES, BUNDLE_PATHS, bundleNames, containerLabels, DEFAULT_SIDECARS_IMAGE, LABEL_BACKEND, LABEL_SERVICE,
  LABEL_SLUG, PORTS, type Service,
} from '../bundle/names.js';
import { agentEnvFor, ALIAS_WIRING, bundleDaemons, bundleEnv, localUpstreamPath, upstreamsJson } from '../bundle/plan.js';
import { SYSTEM_CA_BUNDLE } from '../bundle/provision.js';

type PodSpec = NonNullable<IPod['spec']>;
type Container = PodSpec['containers'][number];
type Volume = NonNullable<PodSpec['volumes']>[number];
type Mount = NonNullable<Container['volumeMounts']>[number];
type EnvVar = NonNullable<Container['env']>[number];

// uid/gid of the images' users (images/Dockerfile.agent `node`, Dockerfile.sidecars `bottle`):
// numeric, because the kubelet can only enforce runAsNonRoot on a numeric user.
export const AGENT_UID = 1000;
export const BUNDLE_UID = 10001;

// Inputs that are not in the bottle plan.
export interface KubernetesPlanOptions {
  /** The agent's manifest entry (its plain env). */
  agent: Pick<AgentSpec, 'env'>;
  /** The bundle Service's cluster IP, which `gateway`, `git-gate` and `supervise` resolve to in
   * the agent's /etc/hosts: apply creates the Service first and reads it back. */
  serviceIP: string;
  /** An existing namespace; absent: the plan makes `bottle-<slug>`. */
  namespace?: string;
  /** A RuntimeClass (gVisor `runsc`, Kata) for the agent pod: VM-grade isolation. */
  runtimeClassName?: string;
  sidecarsImage?: string;
  /** `IfNotPresent` for images loaded into the nodes (kind load); the cluster's default otherwise. */
  imagePullPolicy?: 'Always' | 'IfNotPresent' | 'Never';
}

// The names of a bottle's cluster objects; derived from the slug alone, like the engine names.
export interface KubernetesNames {
  namespace: string;
  agent: string;
  bundle: string;
  /** The Service (a DNS-1035 label: at most 63 characters). */
  service: string;
  config: string;
  agentCA: string;
  routes: string;
  files: string;
}

const DNS_LABEL = /^[a-z]([-a-z0-9]{0,61}[a-z0-9])?$/;

// The names of a bottle's objects; throws when the slug does not make valid ones.
export function kubernetesNames(slug: string, namespace?: string): KubernetesNames {
  const { project, bundle } = bundleNames(slug);
  const names = {
    namespace: namespace ?? project, agent: `${project}-agent`, bundle, service: bundle,
    config: `${project}-config`, agentCA: `${project}-agent-ca`, routes: `${project}-routes`, files: `${project}-files`,
  };
  for (const n of [names.namespace, names.service]) {
    if (!DNS_LABEL.test(n)) throw new Error(`kubernetes: ${n} is not a DNS label (lowercase letters, digits, '-', at most 63); use a shorter slug`);
  }
  return names;
}

// Everything apply creates, in that order; agentPod last (it needs the Service's IP).
export interface KubernetesPlan {
  names: KubernetesNames;
  /** Absent when the plan was given a namespace. */
  namespace?: INamespace;
  /** policy.yaml, budget.json, upstreams.json: the bundle's. */
  config: IConfigMap;
  /** The CA certificate only (public), for the agent's trust store; ca.crt is filled at apply. */
  agentCA: IConfigMap;
  /** Route credentials by host env var name; the bundle's env. Values filled at apply. */
  routes: ISecret;
  /** The CA (ca.crt, ca.key) and git identities (identity.<remote>); the bundle's files. */
  files: ISecret;
  networkPolicies: INetworkPolicy[];
  bundlePod: IPod;
  service: IService;
  agentPod: IPod;
  /** Host env var names whose values go into `routes` (as in the Docker plan). */
  secretNames: string[];
}

// The plan's objects in apply order.
export function kubernetesObjects(kp: KubernetesPlan): Array<INamespace | IConfigMap | ISecret | INetworkPolicy | IPod | IService> {
  return [...(kp.namespace ? [kp.namespace] : []), kp.config, kp.agentCA, kp.routes, kp.files, ...kp.networkPolicies, kp.bundlePod, kp.service, kp.agentPod];
}

// A copy of a planned ConfigMap or Secret with its values, at apply time: every planned key must
// be given one, and no other key is added.
export function withValues<T extends IConfigMap | ISecret>(object: T, values: Record<string, string>): T {
  const field = object.kind === 'Secret' ? 'stringData' : 'data';
  const planned = Object.keys((object.kind === 'Secret' ? object.stringData : object.data) ?? {});
  const missing = planned.filter((k) => values[k] === undefined);
  if (missing.length) throw new Error(`kubernetes: no value for ${missing.join(', ')} in ${object.kind} ${object.metadata?.name}`);
  return { ...object, [field]: Object.fromEntries(planned.map((k) => [k, values[k]!])) };
}

// The labels of one of the bottle's objects: the Docker backend's, and which backend made it.
function labels(slug: string, agent: string, service: Service): Record<string, string> {
  return { ...containerLabels(slug, agent, service), [LABEL_BACKEND]: 'kubernetes' };
}

// Selects one of the bottle's pods (or, without a service, both).
const selector = (slug: string, service?: Service): Record<string, string> => ({ [LABEL_SLUG]: slug, ...(service ? { [LABEL_SERVICE]: service } : {}) });

// The bundle's three ports, for the agent's egress and the bundle's ingress.
const bundlePorts = () => Object.values(PORTS).map((port) => ({ protocol: 'TCP' as const, port }));

// Every container: no capabilities, no privilege gain, a read-only root, the runtime's seccomp.
function containerSecurity(): NonNullable<Container['securityContext']> {
  return {
    runAsNonRoot: true, allowPrivilegeEscalation: false, privileged: false, readOnlyRootFilesystem: true,
    capabilities: { drop: ['ALL'] }, seccompProfile: { type: 'RuntimeDefault' },
  };
}

// Pod-level: a numeric non-root user, files group-owned by it, no service-account token, no
// service env vars, no restarts (the Docker containers have none either).
function podBase(uid: number): Pick<PodSpec, 'securityContext' | 'automountServiceAccountToken' | 'enableServiceLinks' | 'restartPolicy'> {
  return {
    automountServiceAccountToken: false,
    enableServiceLinks: false,
    restartPolicy: 'Never',
    securityContext: { runAsNonRoot: true, runAsUser: uid, runAsGroup: uid, fsGroup: uid, seccompProfile: { type: 'RuntimeDefault' } },
  };
}

const emptyDir = (name: string, sizeLimit?: string): Volume => ({ name, emptyDir: sizeLimit ? { sizeLimit } : {} });
const mount = (name: string, mountPath: string, readOnly = false, subPath?: string): Mount =>
  ({ name, mountPath, ...(readOnly ? { readOnly } : {}), ...(subPath ? { subPath } : {}) });
const envVars = (list: string[]): EnvVar[] => list.map((e) => ({ name: e.slice(0, e.indexOf('=')), value: e.slice(e.indexOf('=') + 1) }));

// SPEC §6/§7 on a cluster. Pure; holds names of secrets only.
export function kubernetesPlan(plan: BottlePlan, slug: string, opts: KubernetesPlanOptions): KubernetesPlan {
  const names = kubernetesNames(slug, opts.namespace);
  const pull = opts.imagePullPolicy ? { imagePullPolicy: opts.imagePullPolicy } : {};
  const meta = (name: string, service: Service) => ({ name, namespace: names.namespace, labels: labels(slug, plan.agent, service) });
  const { daemons, review } = bundleDaemons(plan);
  const secretNames = routeVarNames(plan.egress.routes);
  const local = plan.git.filter((g) => localUpstreamPath(g.upstream));
  if (local.length) throw new Error(`kubernetes: git remote ${local.map((g) => g.name).join(', ')} is a host path, which a cluster cannot reach`);

  const config: IConfigMap = {
    apiVersion: 'v1', kind: 'ConfigMap', metadata: meta(names.config, 'sidecars'),
    data: {
      'policy.yaml': policyTextFromPlan(plan),
      [BUDGET_FILE]: budgetFileText(plan.budget, plan.prices),
      ...(daemons.includes('git-gate') ? { 'upstreams.json': upstreamsJson(plan) } : {}),
    },
  };
  const agentCA: IConfigMap = { apiVersion: 'v1', kind: 'ConfigMap', metadata: meta(names.agentCA, 'agent'), data: { 'ca.crt': '' } };
  const routes: ISecret = {
    apiVersion: 'v1', kind: 'Secret', type: 'Opaque', metadata: meta(names.routes, 'sidecars'),
    stringData: Object.fromEntries(secretNames.map((n) => [n, ''])),
  };
  const identities = plan.git.filter((g) => g.identity).map((g) => ({ key: `identity.${g.name}`, path: g.name }));
  const files: ISecret = {
    apiVersion: 'v1', kind: 'Secret', type: 'Opaque', metadata: meta(names.files, 'sidecars'),
    stringData: Object.fromEntries(['ca.crt', 'ca.key', ...identities.map((i) => i.key)].map((k) => [k, ''])),
  };

  // The bundle: the only pod with a Secret, the only one that reaches out.
  const volumes: Volume[] = [
    { name: 'policy', configMap: { name: names.config, items: [{ key: 'policy.yaml', path: 'policy.yaml' }, { key: BUDGET_FILE, path: BUDGET_FILE }] } },
    { name: 'ca', secret: { secretName: names.files, defaultMode: 0o440, items: [{ key: 'ca.crt', path: 'ca.crt' }, { key: 'ca.key', path: 'ca.key' }] } },
    emptyDir('events'), emptyDir('home', '16Mi'), emptyDir('tmp', '1Gi'),
  ];
  const mounts: Mount[] = [
    mount('policy', BUNDLE_PATHS.policyDir, true), mount('ca', BUNDLE_PATHS.caDir, true), mount('events', BUNDLE_PATHS.eventsDir),
    mount('home', BUNDLE_PATHS.home), mount('tmp', '/tmp'),
  ];
  // The host's writes (decisions) land through `control`, the only container that mounts them
  // writable; the daemons see them read-only, as the Docker bundle does its bind mount.
  const controlMounts: Mount[] = [];
  if (daemons.includes('supervise') || review) {
    volumes.push(emptyDir('queue'), emptyDir('decisions'));
    mounts.push(mount('queue', BUNDLE_PATHS.queueDir), mount('decisions', BUNDLE_PATHS.decisionsDir, true));
    controlMounts.push(mount('queue', BUNDLE_PATHS.queueDir, true), mount('decisions', BUNDLE_PATHS.decisionsDir));
  }
  if (daemons.includes('git-gate')) {
    volumes.push(emptyDir('repos'), { name: 'upstreams', configMap: { name: names.config, items: [{ key: 'upstreams.json', path: 'upstreams.json' }] } });
    mounts.push(mount('repos', BUNDLE_PATHS.reposDir), mount('upstreams', BUNDLE_PATHS.upstreams, true, 'upstreams.json'));
    if (identities.length) {
      volumes.push({ name: 'identities', secret: { secretName: names.files, defaultMode: 0o440, items: identities } });
      mounts.push(mount('identities', BUNDLE_PATHS.identities, true));
    }
  }
  const secretEnv: EnvVar[] = secretNames.map((name) => ({ name, valueFrom: { secretKeyRef: { name: names.routes, key: name, optional: false } } }));
  const bundlePod: IPod = {
    apiVersion: 'v1', kind: 'Pod', metadata: meta(names.bundle, 'sidecars'),
    spec: {
      ...podBase(BUNDLE_UID),
      containers: [{
        name: 'sidecars',
        image: opts.sidecarsImage ?? DEFAULT_SIDECARS_IMAGE, ...pull,
        env: [...envVars(bundleEnv(daemons, review)), ...secretEnv],
        ports: Object.entries(PORTS).map(([name, containerPort]) => ({ name, containerPort, protocol: 'TCP' })),
        // Ready once the gateway accepts (the kubelet probes from the node, which policy allows).
        readinessProbe: { tcpSocket: { port: PORTS.gateway }, periodSeconds: 2 },
        securityContext: containerSecurity(),
        volumeMounts: mounts,
      }, {
        // No env, no Secret, no port: the exec target for the host's writes.
        name: 'control', image: opts.sidecarsImage ?? DEFAULT_SIDECARS_IMAGE, ...pull, command: ['tini', '--', 'sleep', 'infinity'],
        securityContext: containerSecurity(), volumeMounts: [...controlMounts, mount('events', BUNDLE_PATHS.eventsDir, true)],
      }],
      volumes,
    },
  };

  const service: IService = {
    apiVersion: 'v1', kind: 'Service', metadata: meta(names.service, 'sidecars'),
    spec: {
      type: 'ClusterIP', selector: selector(slug, 'sidecars'),
      ports: Object.entries(PORTS).map(([name, port]) => ({ name, port, targetPort: port, protocol: 'TCP' })),
    },
  };

  // The agent: the bundle's aliases in /etc/hosts and no resolver at all (a cluster resolver
  // forwards to the internet: a DNS tunnel past the gateway); the CA from a ConfigMap, appended
  // to the system bundle by an init container, since nothing in the pod runs as root.
  const trust = ['sh', '-c', 'cat "$1" "$2" > "$3"', 'trust-ca', SYSTEM_CA_BUNDLE, '/bottle-ca/ca.crt', '/trust/ca-certificates.crt'];
  const agentPod: IPod = {
    apiVersion: 'v1', kind: 'Pod', metadata: meta(names.agent, 'agent'),
    spec: {
      ...podBase(AGENT_UID),
      ...(opts.runtimeClassName ? { runtimeClassName: opts.runtimeClassName } : {}),
      hostAliases: [{ ip: opts.serviceIP, hostnames: [...BUNDLE_ALIASES] }],
      dnsPolicy: 'None',
      dnsConfig: { nameservers: ['127.0.0.1'] },
      initContainers: [{
        name: 'trust-ca', image: plan.image, ...pull, command: trust, securityContext: containerSecurity(),
        volumeMounts: [mount('agent-ca', '/bottle-ca', true), mount('trust', '/trust')],
      }],
      containers: [{
        name: 'agent',
        image: plan.image, ...pull,
        // As the Docker agent: the image's entrypoint (tini) runs it.
        args: ['sleep', 'infinity'],
        workingDir: AGENT_PATHS.workspace,
        env: envVars(agentEnvFor(opts.agent, ALIAS_WIRING, plan.auth?.mode)),
        securityContext: containerSecurity(),
        volumeMounts: [
          mount('home', AGENT_PATHS.home), mount('workspace', AGENT_PATHS.workspace), mount('tmp', '/tmp'),
          mount('agent-ca', AGENT_PATHS.caCert, true, 'ca.crt'), mount('trust', SYSTEM_CA_BUNDLE, true, 'ca-certificates.crt'),
        ],
      }],
      volumes: [
        emptyDir('home'), emptyDir('workspace'), emptyDir('tmp', '1Gi'), emptyDir('trust', '16Mi'),
        { name: 'agent-ca', configMap: { name: names.agentCA } },
      ],
    },
  };

  const policy = (suffix: string, service: Service, spec: INetworkPolicy['spec']): INetworkPolicy => ({
    apiVersion: 'networking.k8s.io/v1', kind: 'NetworkPolicy', metadata: meta(`${bundleNames(slug).project}-${suffix}`, service), spec,
  });
  const networkPolicies: INetworkPolicy[] = [
    // Both pods: nothing in, nothing out, unless a policy below allows it.
    policy('deny', 'sidecars', { podSelector: { matchLabels: selector(slug) }, policyTypes: ['Ingress', 'Egress'] }),
    policy('agent-egress', 'agent', {
      podSelector: { matchLabels: selector(slug, 'agent') }, policyTypes: ['Egress'],
      egress: [{ to: [{ podSelector: { matchLabels: selector(slug, 'sidecars') } }], ports: bundlePorts() }],
    }),
    policy('bundle-ingress', 'sidecars', {
      podSelector: { matchLabels: selector(slug, 'sidecars') }, policyTypes: ['Ingress'],
      ingress: [{ from: [{ podSelector: { matchLabels: selector(slug, 'agent') } }], ports: bundlePorts() }],
    }),
    policy('bundle-egress', 'sidecars', { podSelector: { matchLabels: selector(slug, 'sidecars') }, policyTypes: ['Egress'], egress: [{}] }),
  ];

  const namespace: INamespace | undefined = opts.namespace ? undefined : {
    apiVersion: 'v1', kind: 'Namespace',
    metadata: {
      name: names.namespace,
      // Pod Security Admission refuses any pod here that is not `restricted`-clean.
      labels: { ...selector(slug), [LABEL_BACKEND]: 'kubernetes', 'pod-security.kubernetes.io/enforce': 'restricted' },
    },
  };
  return { names, ...(namespace ? { namespace } : {}), config, agentCA, routes, files, networkPolicies, bundlePod, service, agentPod, secretNames };
}
