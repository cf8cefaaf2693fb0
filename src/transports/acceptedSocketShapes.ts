/**
 * Node 20's net.Socket constructor copies its options with an object spread
 * (`options = { ...options }`) and then adds three properties to the copy. On
 * V8 11 (Node 20) the hidden class of a spread copy is not part of any
 * transition tree, so each added property makes a new hidden class that is
 * shared with nothing: every accepted connection got three hidden classes and
 * three descriptor arrays of its own, and the stream constructors that read the
 * copy met a new hidden class every time and filled the old generation with
 * inline-cache handlers (about 20 per connection). All of it is garbage as soon
 * as the socket is made: about 1.5 KiB per accepted connection, collected only
 * by a full garbage collection, which is most of why a burst of connections
 * grew the broker's memory by more than its live state (docs/performance.md,
 * memory per idle connection).
 *
 * V8 copies by a generic path once that spread has seen more than four
 * different hidden classes, and the generic path's copies share hidden classes
 * like ordinary objects do. Making a few dozen sockets of six option shapes
 * (never connected: no file descriptor, nothing sent) takes the constructor
 * there before the first client is accepted. V8 12 (Node 22) keeps spread
 * copies in the transition tree, so there it is not done.
 */
import { Socket } from 'net';

const SHAPES: ReadonlyArray<ConstructorParameters<typeof Socket>[0]> = [
  {},
  { allowHalfOpen: false },
  { readable: false },
  { writable: false },
  { allowHalfOpen: false, readable: false },
  { allowHalfOpen: false, writable: false },
];

const ROUNDS = 4;

let done = false;

/** Once per process, before a listener accepts connections (a no-op on V8 12 and later). */
export function shareAcceptedSocketShapes(v8Version = process.versions.v8): void {
  if (done) return;
  done = true;
  if (Number(v8Version.split('.')[0]) >= 12) return;
  // V8 keeps no feedback for a function until it has run a few times (8 in V8 11): several rounds.
  for (let round = 0; round < ROUNDS; round++) for (const options of SHAPES) new Socket(options).destroy();
}
