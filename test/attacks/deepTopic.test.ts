/**
 * Attack: subscribe to and publish on `x` followed by 6,000 `/`. The topic
 * trie's recursive walk once overflowed the stack on the message tail: every
 * subscriber stopped receiving while publishers kept getting PUBACK. Now such a
 * topic is refused at the edge (mqtt.maxTopicLevels, 128 by default, as EMQX),
 * and where an operator allows deep topics the walk is iterative, so delivery
 * survives any depth.
 */
import { IPublishPacket, ISubackPacket } from 'mqtt-packet';
import { startBroker, TestBroker } from '../helpers/broker';
import { RawClient } from '../helpers/rawClient';

jest.setTimeout(60_000);

const DEEP = `x${'/'.repeat(6000)}`;

async function healthyPair(broker: TestBroker): Promise<{ check: (n: number) => Promise<void>; close: () => void }> {
  const sub = await RawClient.connect(broker.ports.tcp!);
  await sub.handshake('deep-healthy-sub');
  sub.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'healthy/#', qos: 1 }] });
  await sub.nextCmd('suback');
  const pub = await RawClient.connect(broker.ports.tcp!);
  await pub.handshake('deep-healthy-pub');
  return {
    async check(n: number) {
      pub.send({ cmd: 'publish', topic: 'healthy/t', payload: Buffer.from(String(n)), qos: 1, retain: false, dup: false, messageId: n });
      await pub.next((p) => p.cmd === 'puback' && p.messageId === n);
      const got = await sub.nextCmd<IPublishPacket>('publish');
      expect(got.payload.toString()).toBe(String(n));
    },
    close() {
      sub.destroy();
      pub.destroy();
    },
  };
}

test('a 6,001-level topic: SUBSCRIBE refused (0x80) and PUBLISH closes the connection (mqtt.maxTopicLevels), counted; everyone else keeps receiving', async () => {
  const broker = await startBroker();
  try {
    const healthy = await healthyPair(broker);
    await healthy.check(1);
    const attacker = await RawClient.connect(broker.ports.tcp!);
    await attacker.handshake('deep-attacker');
    attacker.send({ cmd: 'subscribe', messageId: 7, subscriptions: [{ topic: DEEP, qos: 1 }, { topic: 'fine/#', qos: 1 }] });
    const suback = await attacker.nextCmd<ISubackPacket>('suback');
    expect(suback.granted).toEqual([0x80, 1]);
    await healthy.check(2);
    attacker.send({ cmd: 'publish', topic: DEEP, payload: Buffer.from('x'), qos: 1, retain: false, dup: false, messageId: 9 });
    expect(await attacker.waitClosed(5000)).toBe(true);
    expect(attacker.packets.filter((p) => p.cmd === 'puback')).toEqual([]);
    await healthy.check(3);
    expect(broker.node.limits.count('mqtt.maxTopicLevels')).toBe(2);
    healthy.close();
  } finally {
    await broker.stop();
    broker.cleanup();
  }
});

test('with mqtt.maxTopicLevels raised past 6,000 the same topic is delivered: matching is iterative', async () => {
  const broker = await startBroker({ mqtt: { maxTopicLevels: 10_000 } });
  try {
    const healthy = await healthyPair(broker);
    const deepSub = await RawClient.connect(broker.ports.tcp!);
    await deepSub.handshake('deep-sub');
    deepSub.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: DEEP, qos: 1 }, { topic: `x${'/+'.repeat(3000)}/#`, qos: 1 }] });
    expect((await deepSub.nextCmd<ISubackPacket>('suback')).granted).toEqual([1, 1]);
    const p = await RawClient.connect(broker.ports.tcp!);
    await p.handshake('deep-pub');
    p.send({ cmd: 'publish', topic: DEEP, payload: Buffer.from('deep'), qos: 1, retain: true, dup: false, messageId: 1 });
    await p.nextCmd('puback');
    const got = await deepSub.nextCmd<IPublishPacket>('publish');
    expect(got.payload.toString()).toBe('deep');
    await healthy.check(1);
    // The retained index is walked iteratively too.
    const late = await RawClient.connect(broker.ports.tcp!);
    await late.handshake('deep-late');
    late.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: '#', qos: 1 }] });
    const retained = await late.nextCmd<IPublishPacket>('publish');
    expect(retained.topic).toBe(DEEP);
    await healthy.check(2);
    for (const c of [deepSub, p, late]) c.destroy();
    healthy.close();
  } finally {
    await broker.stop();
    broker.cleanup();
  }
});
