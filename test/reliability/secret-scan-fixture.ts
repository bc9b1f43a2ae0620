/**
 * A fixture for test/reliability/secret-scan.test.ts, never part of the default suite (its name does
 * not end in .test.ts): the self-test runs it in a child `vitest run` with the real setup files and
 * globalSetup, to prove that a secret leaked through the real Slack client into a public message, or
 * into a log line, fails that run with a report, while the same secret sent by DM does not count.
 */
import { expect, it } from 'vitest';
import { whereKey } from '../../adapters/slack/refs.ts';
import { startSlackSession } from '../fakes/slack/harness.ts';

// The secrets come from the self-test; without them (any other run) there is nothing to do.
const planted = process.env.CONNEXA_SCAN_FIXTURE ? (JSON.parse(process.env.CONNEXA_SCAN_FIXTURE) as { publicPost: string; logLine: string; dmOnly: string }) : null;

it.skipIf(!planted)('plants one leak in a public post and one in a log line (and sends a third secret by DM only)', async () => {
  const PLANTED = planted!;
  const s = await startSlackSession();
  try {
    s.app.app.store.addNodes(
      [
        { ip: '203.0.113.71', login: 'leak1', password: PLANTED.publicPost },
        { ip: '203.0.113.72', login: 'leak2', password: PLANTED.logLine },
        { ip: '203.0.113.73', login: 'leak3', password: PLANTED.dmOnly },
      ],
      null,
    );
    await s.adapter.port.post(whereKey({ channel: 'CGENERAL', threadTs: null, invocation: null }), { text: `oops: 203.0.113.71 ${PLANTED.publicPost}` });
    s.app.app.log.info(`oops: password of 203.0.113.72 is ${PLANTED.logLine}`);
    await s.adapter.port.sendDirect({ platform: 'slack', id: 'UOPER', name: 'otto', roleIds: [] }, { text: `yours: ${PLANTED.dmOnly}` });
    expect(s.fake.model.messages.filter((m) => m.channel === 'DUOPER')).toHaveLength(1);
  } finally {
    await s.stop();
  }
});
