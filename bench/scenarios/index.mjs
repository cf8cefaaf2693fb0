// Every scenario, in the order a repeat runs them and the report lists them.
import { connections } from './connections.mjs';
import { latency } from './latency.mjs';
import { restart } from './restart.mjs';
import { fanInQos0, fanInQos0Open, fanInQos1, fanInQos1Open, fanOutQos0 } from './throughput.mjs';

export const SCENARIOS = [fanInQos0, fanInQos1, fanInQos1Open, fanInQos0Open, fanOutQos0, latency, connections, restart];
