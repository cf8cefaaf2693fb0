/**
 * test/interop/paho.json is what the README tells users to start mqlog with for
 * the Eclipse Paho 3.1.1 interoperability suite: its subscribe-failure case
 * needs a filter the broker refuses. Releases of the suite name it
 * `nosubscribe` and, with a topic prefix, `test/nosubscribe`: both are refused,
 * anything else is allowed.
 */
import { join } from 'path';
import { accessControlFromConfig } from '../../auth/fromConfig';
import { loadConfig } from '../../src/config';
import { silentLogger } from '../../src/logger';

test('the Paho config refuses nosubscribe and test/nosubscribe, and allows the suite topics', async () => {
  const config = loadConfig({ file: join(__dirname, '..', 'interop', 'paho.json') });
  const access = accessControlFromConfig(config, silentLogger());
  const acl = await access.acl.compile({ clientId: 'myclientid', username: null, ip: '127.0.0.1', groups: [], superuser: false });
  expect(['nosubscribe', 'test/nosubscribe', 'x/y/nosubscribe'].map((f) => acl.maySubscribe(f))).toEqual([false, false, false]);
  expect(['TopicA/+', '+/C', '#', '/#', 'test/TopicA/#'].map((f) => acl.maySubscribe(f))).toEqual([true, true, true, true, true]);
  await access.close();
});
