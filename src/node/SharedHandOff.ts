/**
 * A member of a shared subscription ended (its session with it) holding QoS 1
 * messages it never acknowledged: each goes to another member of the group,
 * chosen as every node would (the members without it, the message's position),
 * as a copy in the log aimed at that member (`target`, origin replay: the
 * archive has the original). So an acknowledged message is not lost because the
 * member it went to vanished (MQTT 5 section 4.8.2).
 */
import { decodeEvent } from '../events/codec';
import { MessageOrigin, MessageRef, MessageSource } from '../events/types';
import { EventLog } from '../log/EventLog';
import { chooseMember } from '../router/SharedSubscriptions';
import { Appender } from './Appender';
import { SharedGroups } from './SharedGroups';

export class SharedHandOff {
  constructor(
    private readonly log: EventLog,
    private readonly messages: string,
    private readonly groups: SharedGroups,
    private readonly appender: Appender,
    private readonly nodeId: () => string,
    private readonly failed: (err: Error) => void,
  ) {}

  handOff(from: string, shareFilter: string, ref: MessageRef): void {
    if (ref.source !== MessageSource.Messages) return;
    void this.run(from, shareFilter, ref).catch((err: Error) => this.failed(err));
  }

  private async run(from: string, shareFilter: string, ref: MessageRef): Promise<void> {
    const [record] = await this.log.read(this.messages, ref.partition, ref.offset, { maxRecords: 1 });
    if (!record || record.offset !== ref.offset || !record.value) return; // retention deleted it meanwhile
    const event = decodeEvent(record.value);
    if (event.type !== 'message.published') return;
    const others = this.groups.membersOf(shareFilter).filter((id) => id !== from);
    const to = chooseMember(others, ref.partition, ref.offset);
    if (to === undefined) return; // nobody left in the group: as with no subscriber at all
    await this.appender.append([{ ...event, target: to, origin: MessageOrigin.Replay, retain: false, nodeId: this.nodeId(), timestamp: Date.now() }]);
  }
}
