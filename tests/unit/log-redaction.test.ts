import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { describe, test } from 'node:test';
import pino from 'pino';
import { redactUrl, redactingLoggerOptions } from '../../infra/logging/redaction';

describe('log redaction', () => {
  test("a URL keeps its shape but loses the codec server's path token and every credential-looking query value", () => {
    assert.equal(redactUrl('/t/ados.acme.s3cret/decode'), '/t/[redacted]/decode');
    assert.equal(
      redactUrl('/v1/tenants/acme/runs?status=COMPLETED&access_token=abc&apiKey=k&pageSize=5'),
      '/v1/tenants/acme/runs?status=COMPLETED&access_token=[redacted]&apiKey=[redacted]&pageSize=5',
    );
    assert.equal(redactUrl('/v1/tenants/acme'), '/v1/tenants/acme');
    assert.equal(redactUrl(undefined), undefined);
  });

  test('a logged request, header or secret-named field is censored', () => {
    const lines: string[] = [];
    const log = pino(
      { ...redactingLoggerOptions() },
      new Writable({ write: (chunk, _e, done) => (lines.push(String(chunk)), done()) }),
    );
    log.info({
      req: { method: 'GET', url: '/t/tok123/decode?token=tok456', headers: { authorization: 'Bearer tok789' } },
    });
    log.info({ headers: { authorization: 'Bearer tok789' }, alerts: { secret: 'whsec_x1', webhookUrl: 'https://h' } });
    log.info({ config: { ADOS_ADMIN_TOKEN: 'adm1n', ADOS_KEYRING: '{"keys":{}}' } });
    const text = lines.join('');
    for (const secret of ['tok123', 'tok456', 'tok789', 'whsec_x1', 'adm1n', '"keys"'])
      assert.ok(!text.includes(secret), secret);
    assert.match(text, /"webhookUrl":"https:\/\/h"/);
    assert.match(text, /"url":"\/t\/\[redacted\]\/decode\?token=\[redacted\]"/);
  });
});
