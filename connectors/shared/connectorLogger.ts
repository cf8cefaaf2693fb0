/** The logger a connector reports to: the configured one (or none) tagged with the connector's name. */
import { Logger, silentLogger } from '../../src/logger';

export function connectorLogger(configured: Logger | undefined, connector: string): Logger {
  return (configured ?? silentLogger()).child({ component: 'connector', connector });
}
