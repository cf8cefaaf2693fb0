/**
 * The batch journal's two slots: each commit goes to the older one, only its
 * used prefix written (a reader takes the length from the header and checks the
 * CRC over it). Whatever a slot held before past that prefix is never read, and
 * a torn prefix leaves the other slot's commit in force.
 */
import { mkdtempSync, openSync, readFileSync, rmSync, writeSync, closeSync } from 'fs';
import { tmpdir } from 'os';
import { join } from 'path';
import { BatchJournal, PartitionEnd, readJournal } from '../../src/log/file/BatchJournal';

let dir: string;
beforeEach(() => (dir = mkdtempSync(join(tmpdir(), 'mqlog-journal-'))));
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const ends = (n: number): PartitionEnd[] => [
  { stream: 'messages', partition: 0, end: n },
  { stream: 'sessions-ü', partition: 3, end: 2 ** 40 + n },
];

test('the newest commit reads back after many commits, the one before it in the other slot', () => {
  const file = join(dir, 'batches.journal');
  const j = new BatchJournal(file, 7, ends(0));
  for (let i = 1; i <= 1001; i++) j.commit(ends(i));
  j.close();
  const commits = readJournal(file);
  expect(commits.map((c) => c.seq)).toEqual([1008, 1007]);
  expect(commits[0].ends).toEqual(ends(1001));
  expect(commits[1].ends).toEqual(ends(1000));
});

test('a torn commit (a byte of its prefix wrong) is not read: the older slot holds', () => {
  const file = join(dir, 'batches.journal');
  const j = new BatchJournal(file, 1, ends(0));
  j.commit(ends(1)); // seq 2, slot 0
  j.commit(ends(2)); // seq 3, slot 1
  j.close();
  const slotSize = readFileSync(file).readUInt32BE(4);
  const fd = openSync(file, 'r+');
  writeSync(fd, Buffer.from([0xff]), 0, 1, slotSize + 30); // inside seq 3's stream names
  closeSync(fd);
  const commits = readJournal(file);
  expect(commits.map((c) => c.seq)).toEqual([2]);
  expect(commits[0].ends).toEqual(ends(1));
});
