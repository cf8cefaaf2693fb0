/** Loads every connector so it registers its configuration `type` (see registry.ts). */
export { createAclSource, createAuthenticator, connectorTypes, registerConnector } from './registry';
