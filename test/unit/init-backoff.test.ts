// The pure parts of init: restart pacing and exit-code arithmetic.
import t from 'tap';
import { DEFAULT_BACKOFF, nextDelay, type RestartHistory } from '../../sidecars/init/backoff.js';
import { combinedExitCode, exitCodeOf } from '../../sidecars/init/exit.js';

// Replays a daemon that dies `uptimes[i]` ms after each start; returns the delays chosen.
function replay(uptimes: number[]): number[] {
  let now = 1_000_000;
  let h: RestartHistory = { startedAt: now, lastDelayMs: null };
  const delays: number[] = [];
  for (const up of uptimes) {
    now += up;
    const d = nextDelay(h, now);
    delays.push(d);
    now += d;
    h = { startedAt: now, lastDelayMs: d };
  }
  return delays;
}

t.test('quick deaths double the delay from 0.2 s up to 5 s', async (t) => {
  t.same(replay([10, 10, 10, 10, 10, 10, 10, 10]), [200, 400, 800, 1600, 3200, 5000, 5000, 5000]);
});

t.test('60 s of healthy uptime resets the delay', async (t) => {
  t.same(replay([10, 10, 10, 60_000, 10]), [200, 400, 800, 200, 400]);
  t.same(replay([10, 10, 59_999]), [200, 400, 800], 'just under the threshold still doubles');
});

t.test('the first death always waits the initial delay', async (t) => {
  t.equal(nextDelay({ startedAt: 0, lastDelayMs: null }, 5), DEFAULT_BACKOFF.initialMs);
  t.equal(nextDelay({ startedAt: 0, lastDelayMs: null }, 10 ** 9), DEFAULT_BACKOFF.initialMs);
});

t.test('a custom policy is honoured', async (t) => {
  const policy = { initialMs: 10, maxMs: 25, healthyMs: 100 };
  t.equal(nextDelay({ startedAt: 0, lastDelayMs: 10 }, 50, policy), 20);
  t.equal(nextDelay({ startedAt: 0, lastDelayMs: 20 }, 50, policy), 25);
  t.equal(nextDelay({ startedAt: 0, lastDelayMs: 20 }, 100, policy), 10);
});

t.test('exit codes: signals count as 128 + signo', async (t) => {
  t.equal(exitCodeOf({ exitCode: 0, signal: null }), 0);
  t.equal(exitCodeOf({ exitCode: 3, signal: null }), 3);
  t.equal(exitCodeOf({ exitCode: null, signal: 'SIGKILL' }), 137);
  t.equal(exitCodeOf({ exitCode: null, signal: 'SIGTERM' }), 143);
  t.equal(exitCodeOf({ exitCode: null, signal: null }), 0);
});

t.test('init exits with the first non-zero ending, in the order they ended', async (t) => {
  t.equal(combinedExitCode([]), 0);
  t.equal(combinedExitCode([{ exitCode: 0, signal: null }, { exitCode: 0, signal: null }]), 0);
  t.equal(combinedExitCode([{ exitCode: 0, signal: null }, { exitCode: null, signal: 'SIGKILL' }, { exitCode: 3, signal: null }]), 137);
  t.equal(combinedExitCode([{ exitCode: 3, signal: null }, { exitCode: null, signal: 'SIGKILL' }]), 3);
});
