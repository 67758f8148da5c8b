// Checksum and plausibility validators behind the number-like core rules.
import t from 'tap';
import { base58Decode, bitcoinWifValid, cardNumberValid, ibanValid, literalValue, luhnValid, placeholderValue } from '../../lib/secrets/validators.js';
import { bitcoinWif, randomSource } from '../fixtures/secrets/tokens.js';

const visa = ['4111', '1111', '1111', '1111'];

t.test('Luhn and card plausibility', async (t) => {
  t.ok(luhnValid(visa.join('')));
  t.notOk(luhnValid(`${visa.join('').slice(0, -1)}2`));
  t.ok(cardNumberValid(visa.join('-')));
  t.notOk(cardNumberValid(`${visa[0]} ${visa[1]}-${visa[2]} ${visa[3]}`), 'mixed separators');
  t.notOk(cardNumberValid('0000000000000000'), 'no issuer');
  t.notOk(cardNumberValid('4'.repeat(16)), 'repeated digit');
});

t.test('IBAN: country length and mod-97', async (t) => {
  const gb = ['GB82', 'WEST', '1234', '5698', '7654', '32'].join('');
  t.ok(ibanValid(gb));
  t.notOk(ibanValid(`${gb}0`), 'wrong length for GB');
  t.notOk(ibanValid(`ZZ${gb.slice(2)}`), 'unknown country');
  t.notOk(ibanValid(gb.replace('82', '83')), 'bad check digits');
});

t.test('base58check WIF', async (t) => {
  const wif = bitcoinWif(randomSource(9));
  t.ok(bitcoinWifValid(wif));
  t.notOk(bitcoinWifValid(`${wif.slice(0, -1)}${wif.endsWith('a') ? 'b' : 'a'}`));
  t.equal(base58Decode('0OIl'), undefined, 'characters outside the alphabet');
  t.same([...base58Decode('1112')!], [0, 0, 0, 1]);
});

t.test('literalValue rejects references to secrets', async (t) => {
  for (const v of ['process.env.GITHUB_TOKEN;', '${TOKEN}', 'getToken()', 'OTHER_VAR_NAME', '/^Unexpected/', 'os.environ["X"]']) {
    t.notOk(literalValue(v), v);
  }
  for (const v of ['"s3cr3tValue"', 'Zx81kLmq', 'dockerpassword']) t.ok(literalValue(v), v);
});

t.test('placeholderValue: a whole documentation placeholder, never a part of a value', async (t) => {
  for (const v of ['changeme', 'changeme123', 'CHANGE_ME', 'changeit', 'replace-me', 'password1', 'secret2024', 'example', 'placeholder', 'dummy', 'test',
    'your-api-key-here', 'YOUR_API_KEY', 'your_github_token', 'my-secret', 'xxxxxxxx', '********', '<your token>', '${DB_PASSWORD}', '{{ api_key }}']) {
    t.ok(placeholderValue(v), v);
  }
  for (const v of ['changeme12345', 'changemeXk9mP2vQ', 'Xk9mP2vQchangeme', 'your-Xk9mP2vQ7rT4', 'your-api-key-here-Xk9m', 'your-a-b-c-d-key', 'xxXk9mP2', '<a>b<c>', 'hunter3', 'dockerpassword']) {
    t.notOk(placeholderValue(v), v);
  }
  t.notOk(literalValue('changeme123'), 'literalValue refuses placeholders');
});
