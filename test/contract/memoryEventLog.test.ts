import { createMemoryLogStore, MemoryEventLog, MemoryLogStore } from '../../src/log/memory/MemoryEventLog';
import { describeEventLogContract } from './eventLog.contract';

let store: MemoryLogStore;

describeEventLogContract('MemoryEventLog', {
  async create() {
    store = createMemoryLogStore();
    return new MemoryEventLog(store);
  },
  async reopen() {
    return new MemoryEventLog(store);
  },
  async destroy() {},
  async compact(log) {
    (log as MemoryEventLog).compactNow();
  },
});
