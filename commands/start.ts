// Placeholder: replaced by the module that implements `bottle start`.
import type { Command } from 'commander';
import type { Ctx } from './context.js';
import type { Outcome } from './cli.js';

export function registerStart(_program: Command, _ctx: Ctx, _outcome: Outcome): void {}
