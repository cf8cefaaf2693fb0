import { writeFileSync } from 'fs';
import { join } from 'path';
import { defaultConfig, loadConfig } from '../../src/config';
import { tempDir } from '../helpers/broker';

describe('configuration', () => {
  test('defaults: MQTT on 1883, WebSocket on 8083 at /mqtt, data in ./data, embedded log', () => {
    const c = loadConfig();
    expect(c.listeners.tcp).toMatchObject({ enabled: true, port: 1883 });
    expect(c.listeners.ws).toMatchObject({ enabled: true, port: 8083, path: '/mqtt' });
    expect(c.listeners.tls).toMatchObject({ enabled: false, port: 8883 });
    expect(c.listeners.wss).toMatchObject({ enabled: false, port: 8084 });
    expect(c.dataDir).toBe('./data');
    expect(c.log.backend).toBe('file');
    expect(c).toEqual(defaultConfig());
  });

  test('file, then environment, then flags override each other in that order', () => {
    const dir = tempDir();
    const file = join(dir, 'c.json');
    writeFileSync(file, JSON.stringify({ listeners: { tcp: { port: 2000 } }, mqtt: { maxInflight: 5 }, dataDir: '/from/file' }));
    const c = loadConfig({
      file,
      env: { MQLOG_PORT: '3000', MQLOG__mqtt__maxInflight: '7', MQLOG__listeners__ws__enabled: 'false' },
      overrides: { dataDir: '/from/flag' },
    });
    expect(c.listeners.tcp.port).toBe(3000);
    expect(c.mqtt.maxInflight).toBe(7);
    expect(c.listeners.ws.enabled).toBe(false);
    expect(c.dataDir).toBe('/from/flag');
  });

  test('typos and wrong types are refused with the path of the key', () => {
    expect(() => loadConfig({ object: { mqtt: { maxInflihgt: 3 } } as never })).toThrow("unknown setting 'mqtt.maxInflihgt'");
    expect(() => loadConfig({ env: { MQLOG_PORT: 'abc' } })).toThrow(/listeners.tcp.port' must be a number/);
    expect(() => loadConfig({ overrides: { 'listeners.tcp.enabled': 'yes' } })).toThrow(/true or false/);
    expect(() => loadConfig({ object: { listeners: { tls: { enabled: true } } } })).toThrow(/keyFile and certFile/);
    expect(() => loadConfig({ object: { mqtt: { maxQos: 3 as never } } })).toThrow(/maxQos/);
    expect(() => loadConfig({ object: { cluster: { advertisedAddress: 'no-port' } } })).toThrow(/cluster.advertisedAddress' must be host:port/);
    expect(() => loadConfig({ object: { cluster: { advertisedAddress: 'a b:1' } } })).toThrow(/host:port/);
    expect(loadConfig({ object: { cluster: { advertisedAddress: '[::1]:18883' } } }).cluster.advertisedAddress).toBe('[::1]:18883');
    expect(() => loadConfig({ object: { mqtt: { serverReference: 'x'.repeat(1025) } } })).toThrow(/mqtt.serverReference' must be at most 1024 bytes/);
    expect(() => loadConfig({ object: { mqtt: { responseInformation: 'a\u0000' } } })).toThrow(/mqtt.responseInformation/);
    const dir = tempDir();
    writeFileSync(join(dir, 'bad.json'), '{ nope');
    expect(() => loadConfig({ file: join(dir, 'bad.json') })).toThrow(/not valid JSON/);
  });
});
