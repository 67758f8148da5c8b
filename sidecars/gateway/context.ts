// What every handler of one running gateway shares (built once by startGateway).
import type { Server } from 'node:http';
import type { LeafMinter } from '../../lib/pki/index.js';
import type { Agents, Lookup } from './dial.js';
import type { BudgetGuard } from './budget.js';
import type { LapseReporter } from './lapse.js';
import type { DecisionLog } from './log.js';
import type { PolicyStore } from './reload.js';
import type { Target } from './target.js';
import type { UsageEvent } from '../../lib/usage/meter.js';

// Idle limits; a socket with no traffic for this long is closed.
export interface Timeouts {
  clientIdleMs: number;
  upstreamIdleMs: number;
  tunnelIdleMs: number; // spliced passthrough tunnels and WebSockets
  handshakeMs: number; // from CONNECT's 200 to a finished TLS handshake (or a first request byte)
}

// Generous for agents (long SSE streams, slow builds); bounded so dead peers are reaped.
export const DEFAULT_TIMEOUTS: Timeouts = { clientIdleMs: 300_000, upstreamIdleMs: 300_000, tunnelIdleMs: 600_000, handshakeMs: 30_000 };

// A CONNECT tunnel being served by the inner HTTP server (keyed by its decrypted socket).
export interface Tunnel {
  target: Target;
  // Why requests on this tunnel are refused whatever they are (e.g. SNI mismatch).
  refuse?: string;
}

// One object passed to every handler instead of a class with all of them as methods.
export interface GatewayContext {
  store: PolicyStore;
  minter: LeafMinter;
  lookup: Lookup;
  allowPrivate: ReadonlySet<string>;
  agents: Agents;
  log: DecisionLog;
  // Told every decision: the first block by a lapsed grant becomes an event for the operator.
  lapses: LapseReporter;
  diag: (message: string) => void;
  // Told the usage of each model answer (POST /v1/messages on the model route); unset: no metering.
  onUsage?: (ev: UsageEvent) => void;
  // The spend cap on model requests (budget.json in the policy dir, usage from the events file).
  budget: BudgetGuard;
  timeouts: Timeouts;
  // Ports a passthrough tunnel may reach (443; tests add their upstream's).
  passthroughPorts: readonly number[];
  // Serves requests from inside CONNECT tunnels (TLS-terminated or plain).
  inner: Server;
  tunnels: WeakMap<object, Tunnel>;
  // Every socket the gateway holds (client and upstream), so close() can end them all.
  track(socket: import('node:stream').Duplex): void;
}
