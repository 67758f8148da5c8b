// Placeholder: replaced by the module that implements `bottle scan`.
import type { Command } from 'commander';
import type { Ctx } from './context.js';
import type { Outcome } from './cli.js';

export function registerScan(_program: Command, _ctx: Ctx, _outcome: Outcome): void {}
