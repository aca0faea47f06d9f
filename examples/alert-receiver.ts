/**
 * A budget-alert receiver: checks each alert's Standard Webhooks signature, drops repeats by
 * webhook-id, and prints the alert. See docs/ALERTS.md.
 *   ADOS_ALERT_SECRET=whsec_… node --import tsx examples/alert-receiver.ts [port]
 */
import { createServer } from 'node:http';
import { Webhook, WebhookVerificationError } from 'standardwebhooks';

const secret = process.env.ADOS_ALERT_SECRET;
if (!secret) {
  console.error('set ADOS_ALERT_SECRET to the secret given to ados tenant set --alert-secret');
  process.exit(2);
}
const webhook = new Webhook(secret);
const seen = new Set<string>();
const port = Number(process.argv[2] ?? 9090);

createServer((req, res) => {
  let body = '';
  req.on('data', (chunk: Buffer) => (body += chunk.toString()));
  req.on('end', () => {
    try {
      const alert = webhook.verify(body, req.headers as Record<string, string>);
      const id = String(req.headers['webhook-id']);
      if (!seen.has(id)) {
        seen.add(id);
        console.log(JSON.stringify({ 'webhook-id': id, verified: true, alert }, null, 2));
      }
      res.writeHead(204).end();
    } catch (err) {
      if (!(err instanceof WebhookVerificationError)) throw err;
      console.error(`refused an alert: ${err.message}`);
      res.writeHead(400).end();
    }
  });
}).listen(port, '127.0.0.1', () => console.error(`listening on http://127.0.0.1:${port}/`));
