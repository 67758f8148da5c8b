// The smolvm bottle as data (SPEC §10): the bundle (bundle/plan.ts) on a per-bottle bridge at a
// pinned IP, the VM's create options, and the SAME provisioning steps as Docker with the
// bundle's IP where Docker uses network aliases (the VM has no DNS inside its CIDR allowlist).
// Pure: the subnet comes in (chosen at launch against the engine), no secret is read.
import type { AuthMode } from '../../plan/auth.js';
import { dirname } from 'node:path';
import type { AgentSpec } from '../../manifest/index.js';
import type { BottlePlan } from '../../plan/index.js';
import type { BottlePaths } from '../../state/index.js';
import { AGENT_PATHS, bundleNames, LABEL_BACKEND, LABEL_STATE, networkLabels, PORTS, stateKey } from '../bundle/names.js';
import { agentEnvFor, type BundlePlan, bundlePlan, type BundlePlanOptions, type ContainerSpec, type NetworkSpec } from '../bundle/plan.js';
import { type ProvisionStep, provisionSteps } from '../bundle/provision.js';
import type { BundleSubnet } from './subnet.js';

// Object names of one smolvm bottle; the bundle keeps the shared name, so its control finds it.
export interface SmolvmNames { project: string; vm: string; network: string; bundle: string }

// Derived from the slug alone, so any process (stop, cleanup, attach) finds them.
export function smolvmNames(slug: string): SmolvmNames {
  const { project, bundle } = bundleNames(slug);
  return { project, vm: project, network: `${project}-vm`, bundle };
}

// The VM half: everything `machine create` gets except the packed file and the secret guard.
export interface VmSpec {
  name: string;
  /** Exactly the bundle: TSI allowlisting is per IP, so the bundle's other ports bind loopback. */
  allowCidrs: string[];
  env: Record<string, string>;
  workdir: string;
}

// Everything launch does, in order, as data.
export interface SmolvmPlan {
  slug: string;
  names: SmolvmNames;
  subnet: BundleSubnet;
  /** The bundle's plan: its container, host dirs/files, required paths, daemons, secret names. */
  base: BundlePlan;
  network: NetworkSpec;
  bundle: ContainerSpec;
  vm: VmSpec;
  provision: ProvisionStep[];
}

// The bundle's addresses as the VM sees them (IP literals: no resolver is reachable).
export function bundleUrls(bundleIp: string): { proxy: string; gitGate: string; supervise: string } {
  return {
    proxy: `http://${bundleIp}:${PORTS.gateway}`,
    gitGate: `git://${bundleIp}:${PORTS['git-gate']}`,
    supervise: `http://${bundleIp}:${PORTS.supervise}`,
  };
}

// The VM's env: the manifest's plain env, then the wiring (proxy, CA, placeholder key), which wins.
export function vmEnv(agent: Pick<AgentSpec, 'env'>, bundleIp: string, auth?: AuthMode): Record<string, string> {
  const entries = agentEnvFor(agent, { proxy: bundleUrls(bundleIp).proxy, noProxy: `${bundleIp},localhost,127.0.0.1` }, auth);
  return Object.fromEntries(entries.map((e) => [e.slice(0, e.indexOf('=')), e.slice(e.indexOf('=') + 1)]));
}

const backendLabel = { [LABEL_BACKEND]: 'smolvm' };

// SPEC §10 as engine calls and VM options, from the plan and the chosen subnet.
export function smolvmPlan(plan: BottlePlan, slug: string, paths: BottlePaths, agent: AgentSpec, subnet: BundleSubnet, options: BundlePlanOptions): SmolvmPlan {
  const names = smolvmNames(slug);
  const urls = bundleUrls(subnet.bundleIp);
  // The bundle on the bridge at the pinned IP, with no aliases (nobody resolves them) and no
  // second network.
  const base = bundlePlan(plan, slug, paths, options, {
    network: names.network,
    endpoint: { IPAMConfig: { IPv4Address: subnet.bundleIp } },
    connect: [],
    labels: backendLabel,
  });
  const network: NetworkSpec = {
    name: names.network,
    create: {
      Name: names.network,
      Driver: 'bridge',
      // Not internal: the bundle's gateway needs egress. The VM is confined by its allowlist, not by this bridge.
      Internal: false,
      CheckDuplicate: true,
      IPAM: { Driver: 'default', Config: [{ Subnet: subnet.subnet, Gateway: subnet.gateway }] },
      Labels: { ...networkLabels(slug, plan.agent, 'vm'), ...backendLabel, [LABEL_STATE]: stateKey(dirname(paths.dir)) },
    },
  };
  const vm: VmSpec = {
    name: names.vm,
    allowCidrs: [`${subnet.bundleIp}/32`],
    env: vmEnv(agent, subnet.bundleIp, plan.auth?.mode),
    workdir: AGENT_PATHS.workspace,
  };
  const provision = provisionSteps({
    plan,
    caCertHostPath: base.host.caCert,
    superviseUrl: plan.supervise ? urls.supervise : undefined,
    gitGateUrl: urls.gitGate,
  });
  return { slug, names, subnet, base, network, bundle: base.bundle, vm, provision };
}
