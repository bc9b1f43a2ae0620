/**
 * A gateway's enrolment: when it has no valid server certificate, it makes a key and a CSR
 * (GatewayMaterial) and sends an `enrol` job on the control queue; the bot signs it with its CA
 * (control.ts, Pki.signServerCsr) and answers with the certificate and the server trust.
 */
import { randomUUID } from 'node:crypto';
import { Queue, QueueEvents } from 'bullmq';
import type { Logger } from '../../log.ts';
import { JobWaitTimeout, awaitJob } from './await-job.ts';
import type { EnrolAnswer, EnrolRequest } from './control.ts';
import type { GatewayMaterial } from './gateway-material.ts';
import { CONTROL_QUEUE, PREFIX } from './transport.ts';

export async function enrolGateway(o: { name: string; connection: Record<string, unknown>; material: GatewayMaterial; log: Logger; timeoutMs?: number }): Promise<'kept' | 'enrolled'> {
  if (await o.material.hasValidCert()) return 'kept';
  const base = { connection: o.connection, prefix: PREFIX };
  const queue = new Queue(CONTROL_QUEUE, base);
  const events = new QueueEvents(CONTROL_QUEUE, base);
  queue.on('error', () => {});
  events.on('error', () => {});
  try {
    const req: EnrolRequest = { name: o.name, csrPem: await o.material.newRequest() };
    o.log.info('enrolling: server certificate requested from the bot', { gateway: o.name });
    const job = await queue.add('enrol', req, { attempts: 1, jobId: `enrol-${o.name}-${randomUUID()}`, removeOnComplete: { age: 3600 }, removeOnFail: { age: 86_400 } });
    let answer: EnrolAnswer;
    try {
      answer = await awaitJob<EnrolAnswer>(job, events, o.timeoutMs ?? 60_000);
    } catch (err) {
      if (err instanceof JobWaitTimeout) {
        await job.remove().catch(() => {});
        throw new Error(`enrolment: the bot did not answer (${err.message}); it must run with the same REDIS_URL`);
      }
      throw new Error(`enrolment refused by the bot: ${(err as Error).message}`);
    }
    await o.material.adopt(answer.certPem, answer.trust);
    o.log.info('enrolled: server certificate installed', { gateway: o.name });
    return 'enrolled';
  } finally {
    await Promise.allSettled([events.close(), queue.close()]);
  }
}
