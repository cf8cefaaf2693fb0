#!/usr/bin/env node
// Aedes with its defaults (in-memory persistence) on a plain net server, as the
// benchmark's Aedes broker: node bench/aedes-server.mjs PORT
import net from 'node:net';
import { Aedes } from 'aedes';

const port = Number(process.argv[2]);
const aedes = await Aedes.createBroker();
const server = net.createServer(aedes.handle);
server.listen(port, '127.0.0.1');
const stop = () => server.close(() => aedes.close(() => process.exit(0)));
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
