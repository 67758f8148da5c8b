import t from 'tap';
import { atLeast, compareVersions, formatVersion, parseVersion, TmuxVersionError } from '../../tmux/version.js';

t.test('parses the forms tmux prints', async (t) => {
  t.same(parseVersion('tmux 3.3a'), { major: 3, minor: 3, patch: 'a', channel: 'release', raw: 'tmux 3.3a' });
  t.same(parseVersion('tmux 3.2'), { major: 3, minor: 2, channel: 'release', raw: 'tmux 3.2' });
  t.same(parseVersion('3.3a\n'), { major: 3, minor: 3, patch: 'a', channel: 'release', raw: '3.3a\n' });
  t.same(parseVersion('tmux next-3.4'), { major: 3, minor: 4, channel: 'next', raw: 'tmux next-3.4' });
  t.same(parseVersion('tmux 3.4-rc'), { major: 3, minor: 4, channel: 'rc', raw: 'tmux 3.4-rc' });
  t.same(parseVersion('tmux 3.5-rc2'), { major: 3, minor: 5, channel: 'rc', raw: 'tmux 3.5-rc2' });
  const master = parseVersion('tmux master');
  t.equal(master.channel, 'master');
  t.equal(master.major, Number.POSITIVE_INFINITY);
  t.equal(parseVersion('tmux openbsd-7.4').channel, 'master');
});

t.test('garbage is a clear error', async (t) => {
  for (const raw of ['', 'tmux', 'screen 4.9', 'tmux 3', 'tmux three.two', 'tmux 3.3ab']) {
    t.throws(() => parseVersion(raw), TmuxVersionError, raw);
  }
  t.throws(() => parseVersion('screen 4.9'), /cannot parse tmux version "screen 4.9".*tmux -V/);
});

t.test('atLeast / compare', async (t) => {
  const v = parseVersion('tmux 3.3a');
  t.ok(atLeast(v, '3.2'));
  t.ok(atLeast(v, '3.3'));
  t.ok(atLeast(v, '3.3a'));
  t.notOk(atLeast(v, '3.3b'));
  t.notOk(atLeast(v, '3.4'));
  t.notOk(atLeast(parseVersion('tmux 2.9a'), '3.2'));
  t.ok(atLeast(parseVersion('tmux 10.0'), '3.4'), 'numeric, not lexical');
  t.ok(atLeast(parseVersion('tmux next-3.4'), '3.4'));
  t.ok(atLeast(parseVersion('tmux 3.4-rc'), '3.4'));
  t.ok(atLeast(parseVersion('tmux master'), '9.9'));
  t.ok(atLeast(v, parseVersion('3.1')));
  t.equal(compareVersions(parseVersion('3.3'), parseVersion('3.3a')), -1);
  t.equal(compareVersions(parseVersion('3.3a'), parseVersion('tmux 3.3a')), 0);
});

t.test('formatVersion', async (t) => {
  t.equal(formatVersion(parseVersion('tmux 3.3a')), '3.3a');
  t.equal(formatVersion(parseVersion('tmux next-3.4')), 'next-3.4');
  t.equal(formatVersion(parseVersion('tmux 3.4-rc2')), '3.4-rc');
  t.equal(formatVersion(parseVersion('tmux master')), 'master');
});
