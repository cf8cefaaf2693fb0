/**
 * Who am I (and must I change the default password), admin users and API keys.
 * Every change is appended to the log as an operator action.
 */
import { BadRequest } from '../../history/HistoryQuery';
import { checkName, checkPassword, ApiAccess } from '../ApiAccess';
import { NotFound, Route } from '../ApiServer';
import type { Management } from '../Management';

export function adminRoutes(access: ApiAccess, m: Management | null): Route[] {
  const audit = async (req: Parameters<Route['handle']>[0], action: string, target: string) => {
    if (m) await m.audit(req.actor!, req.ip, action, target, '');
  };
  const body = (req: Parameters<Route['handle']>[0]): Record<string, unknown> => {
    if (typeof req.body !== 'object' || req.body === null || Array.isArray(req.body)) throw new BadRequest('body must be a JSON object');
    return req.body as Record<string, unknown>;
  };
  return [
    {
      method: 'GET',
      path: '/api/v1/me',
      summary: 'The caller, and whether it still uses the default password',
      handle: (req) => ({ status: 200, json: { name: req.actor!.name, kind: req.actor!.kind, mustChangePassword: req.actor!.kind === 'admin' && access.usesDefaultPassword(req.actor!.name) } }),
    },
    {
      method: 'PUT',
      path: '/api/v1/me/password',
      summary: "Change the caller's password",
      body: { password: `new password (at least 8 characters)` },
      async handle(req) {
        if (req.actor!.kind !== 'admin') throw new BadRequest('API keys have no password');
        access.setAdmin(req.actor!.name, checkPassword(body(req).password));
        await audit(req, 'admin.password', req.actor!.name);
        return { status: 200, json: { name: req.actor!.name, changed: true } };
      },
    },
    { method: 'GET', path: '/api/v1/admins', summary: 'Admin users', handle: () => ({ status: 200, json: { admins: access.listAdmins() } }) },
    {
      method: 'POST',
      path: '/api/v1/admins',
      summary: 'Add an admin user (or set its password)',
      body: { name: 'user name', password: 'password (at least 8 characters)' },
      async handle(req) {
        const b = body(req);
        const name = checkName(b.name, 'name');
        const result = access.setAdmin(name, checkPassword(b.password));
        await audit(req, result === 'added' ? 'admin.add' : 'admin.password', name);
        return { status: result === 'added' ? 201 : 200, json: { name, result } };
      },
    },
    {
      method: 'DELETE',
      path: '/api/v1/admins/:name',
      summary: 'Remove an admin user',
      async handle(req) {
        if (!access.removeAdmin(req.params[0])) throw new NotFound(`no admin '${req.params[0].slice(0, 64)}' (the configuration's admin cannot be removed here)`);
        await audit(req, 'admin.remove', req.params[0]);
        return { status: 200, json: { name: req.params[0], removed: true } };
      },
    },
    { method: 'GET', path: '/api/v1/api-keys', summary: 'API keys (names only)', handle: () => ({ status: 200, json: { keys: access.listKeys() } }) },
    {
      method: 'POST',
      path: '/api/v1/api-keys',
      summary: 'Create an API key; its token is in this answer only (use it as Authorization: Bearer <token>)',
      body: { name: 'key name' },
      async handle(req) {
        const created = access.createKey(checkName(body(req).name, 'name'));
        await audit(req, 'apikey.create', created.name);
        return { status: 201, json: created };
      },
    },
    {
      method: 'DELETE',
      path: '/api/v1/api-keys/:name',
      summary: 'Revoke an API key',
      async handle(req) {
        if (!access.removeKey(req.params[0])) throw new NotFound(`no API key '${req.params[0].slice(0, 64)}'`);
        await audit(req, 'apikey.remove', req.params[0]);
        return { status: 200, json: { name: req.params[0], removed: true } };
      },
    },
  ];
}
