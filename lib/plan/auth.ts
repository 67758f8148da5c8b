// How a bottle's claude authenticates to the model API (issue 16): with an API key or with a
// subscription's long-lived OAuth token (`claude setup-token`). Either way the agent holds a
// placeholder of the right shape and the gateway's model route puts the real value in: the
// key as `x-api-key`, the token as `Authorization: Bearer`. Pure.
export const AUTH_MODES = ['api-key', 'oauth-token'] as const;
export type AuthMode = (typeof AUTH_MODES)[number];
/** As written in the manifest: a mode, or `auto` (whichever the host has, API key first). */
export type AuthSetting = AuthMode | 'auto';
export const AUTH_SETTINGS: readonly AuthSetting[] = [...AUTH_MODES, 'auto'];

export interface AuthSpec {
  /** The host variable holding the real credential (what the gateway is given). */
  variable: string;
  /** The request header the model route injects, and its template over `variable`. */
  header: string;
  template: string;
  /** The agent's variable and its worthless value (the shape claude expects). */
  agentVar: string;
  placeholder: string;
}

// The API key the agent sees (claude checks no more than the prefix).
export const PLACEHOLDER_API_KEY = 'sk-ant-bottle-placeholder-not-a-key'; // gitleaks:allow (a sentinel, not a key)
// An OAuth token the agent sees: the prefix and length of what `claude setup-token` prints.
export const PLACEHOLDER_OAUTH_TOKEN = `sk-ant-oat01-bottle-placeholder-not-a-token-${'x'.repeat(64)}`; // gitleaks:allow (a sentinel)

export const AUTH: Readonly<Record<AuthMode, AuthSpec>> = {
  'api-key': {
    variable: 'ANTHROPIC_API_KEY', header: 'x-api-key', template: '${ANTHROPIC_API_KEY}',
    agentVar: 'ANTHROPIC_API_KEY', placeholder: PLACEHOLDER_API_KEY,
  },
  'oauth-token': {
    variable: 'CLAUDE_CODE_OAUTH_TOKEN', header: 'Authorization', template: 'Bearer ${CLAUDE_CODE_OAUTH_TOKEN}',
    agentVar: 'CLAUDE_CODE_OAUTH_TOKEN', placeholder: PLACEHOLDER_OAUTH_TOKEN,
  },
};

// Every header that carries a model API credential: on the model route the client's copies are
// dropped whichever mode injects, so only bottle's credential ever rides there.
export const MODEL_CREDENTIAL_HEADERS: readonly string[] = ['x-api-key', 'authorization'];

// Agent env names claude reads a credential from: bottle sets them (or leaves them unset); a
// manifest value would put a real credential in the agent or take the model route's place.
export const CREDENTIAL_ENV: readonly string[] = ['ANTHROPIC_API_KEY', 'ANTHROPIC_AUTH_TOKEN', 'CLAUDE_CODE_OAUTH_TOKEN'];

// The plan's auth: the mode used and how it was chosen.
export interface PlanAuth {
  mode: AuthMode;
  from: 'manifest' | 'auto';
  /** auto found neither credential: the mode is api-key and start refuses (authMissing). */
  none?: true;
}

// `auto` → the API key when the host has it (env or a credentials.yaml source), else the token,
// else api-key marked `none`; an explicit mode is taken as written.
export function resolveAuth(setting: AuthSetting, has: (variable: string) => boolean): PlanAuth {
  if (setting !== 'auto') return { mode: setting, from: 'manifest' };
  if (has(AUTH['api-key'].variable)) return { mode: 'api-key', from: 'auto' };
  if (has(AUTH['oauth-token'].variable)) return { mode: 'oauth-token', from: 'auto' };
  return { mode: 'api-key', from: 'auto', none: true };
}

// One line: the credential this auth needs is not on the host, and how to get one. `where` is
// the credentials.yaml path.
export function authMissingText(auth: PlanAuth, where: string): string {
  const source = `or name a source in ${where}`;
  const token = `run \`claude setup-token\` (where you are logged in to your Claude subscription) and export the token it prints as CLAUDE_CODE_OAUTH_TOKEN`;
  if (auth.from === 'auto') return `no Claude credential on this host: export ANTHROPIC_API_KEY (an API key), or for a Pro/Max/Team subscription ${token}; ${source}`;
  if (auth.mode === 'oauth-token') return `auth: oauth-token needs CLAUDE_CODE_OAUTH_TOKEN: ${token}, ${source}`;
  return `auth: api-key needs ANTHROPIC_API_KEY: export it (a key from console.anthropic.com), ${source}; a subscription user sets auth: oauth-token instead`;
}

// What the preflight and doctor say about it.
export function authSummary(auth: PlanAuth): string {
  const how = auth.mode === 'api-key' ? 'API key ($ANTHROPIC_API_KEY)' : 'subscription OAuth token ($CLAUDE_CODE_OAUTH_TOKEN)';
  return `${how}${auth.from === 'auto' ? ', chosen by auto' : ''}; the agent holds a placeholder`;
}
