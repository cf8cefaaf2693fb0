import { Server } from 'net';

/** Listens and resolves with the bound port; a port in use is a clear error naming it. */
export function listenOn(server: Server, host: string, port: number, what: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const onError = (err: NodeJS.ErrnoException) => {
      if (err.code === 'EADDRINUSE') reject(new Error(`${what} port ${host}:${port} is already in use (choose another with --port or the config file)`));
      else if (err.code === 'EACCES') reject(new Error(`${what} port ${host}:${port}: permission denied`));
      else reject(err);
    };
    server.once('error', onError);
    server.once('listening', () => {
      server.removeListener('error', onError);
      const addr = server.address();
      resolve(typeof addr === 'object' && addr ? addr.port : port);
    });
    server.listen(port, host);
  });
}

export function closeServer(server: Server): Promise<void> {
  return new Promise((resolve) => server.close(() => resolve()));
}
