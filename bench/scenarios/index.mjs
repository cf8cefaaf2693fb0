// Every scenario, in the order a repeat runs them and the report lists them.
import { connections } from './connections.mjs';
import { latency } from './latency.mjs';
import { restart } from './restart.mjs';
import { fanInQos0, fanInQos1, fanOutQos0 } from './throughput.mjs';

export const SCENARIOS = [fanInQos0, fanInQos1, fanOutQos0, latency, connections, restart];
