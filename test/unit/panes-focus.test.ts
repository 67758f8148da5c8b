// BOTTLE_FOCUS_ON_NOTIFY: focus moves to the dashboard on notifications unless it says off
// (README; `--no-focus-on-notify` is the flag, tested in test/tmux/dashboard-notify.test.ts).
import t from 'tap';
import { focusOnNotifyFromEnv } from '../../panes/app.js';

t.test('on by default and for anything but an "off" word', async (t) => {
  t.equal(focusOnNotifyFromEnv({}), true);
  for (const v of ['1', 'true', 'yes', '']) t.equal(focusOnNotifyFromEnv({ BOTTLE_FOCUS_ON_NOTIFY: v }), true, JSON.stringify(v));
  for (const v of ['0', 'false', 'no', 'off', 'OFF']) t.equal(focusOnNotifyFromEnv({ BOTTLE_FOCUS_ON_NOTIFY: v }), false, v);
});
