import { mkdtempSync, rmSync } from 'fs';
import { tmpdir } from 'os';
import { join } from 'path';
import { EventLog } from '../../src/log/EventLog';
import { FileEventLog, FileLogOptions } from '../../src/log/file/FileEventLog';
import { describeEventLogContract, EventLogFactory } from './eventLog.contract';

/** A factory over a fresh temp directory per test; reopen is a new instance on the same directory. */
function fileLogFactory(options: Omit<FileLogOptions, 'dir'> = {}): EventLogFactory {
  let dir: string | null = null;
  return {
    async create() {
      dir = mkdtempSync(join(tmpdir(), 'mqlog-contract-'));
      return new FileEventLog({ ...options, dir });
    },
    async reopen() {
      return new FileEventLog({ ...options, dir: dir! });
    },
    async destroy() {
      if (dir) rmSync(dir, { recursive: true, force: true });
      dir = null;
    },
    async compact(log: EventLog) {
      await (log as FileEventLog).compactNow();
    },
  };
}

describeEventLogContract('FileEventLog', fileLogFactory());
describeEventLogContract('FileEventLog (1 KiB segments)', fileLogFactory({ segmentBytes: 1024, indexIntervalBytes: 128 }));
describeEventLogContract("FileEventLog (fsync 'batch')", fileLogFactory({ fsync: 'batch' }));
