import mqtt, { IClientOptions, MqttClient } from 'mqtt';

/**
 * A connect function for MQTT 5 mqtt.js clients of a test broker: no
 * reconnection (a test sees every close), each client kept in `clients` for the
 * suite's afterAll to end.
 */
export function v5Connector(port: () => number, clients: MqttClient[]): (clientId: string, opts?: IClientOptions) => Promise<MqttClient> {
  return async (clientId, opts = {}) => {
    const c = await mqtt.connectAsync({ host: '127.0.0.1', port: port(), clientId, protocolVersion: 5, reconnectPeriod: 0, ...opts });
    clients.push(c);
    return c;
  };
}
