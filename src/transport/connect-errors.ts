/**
 * What a failed broker connection means: the TLS failures, refusals and
 * protocol mismatches people actually hit, in words that point at the config
 * key to change.
 */
export function describeConnectError(e: Error & { code?: string | number }): string {
  const code = String(e.code ?? '');
  if (
    [
      'SELF_SIGNED_CERT_IN_CHAIN',
      'DEPTH_ZERO_SELF_SIGNED_CERT',
      'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
      'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
      'CERT_UNTRUSTED',
    ].includes(code)
  ) {
    return `TLS: the broker's certificate is not signed by a trusted CA (${code}); set mqtt.ca to the CA that signed it`;
  }
  if (code === 'ERR_TLS_CERT_ALTNAME_INVALID') return `TLS: the broker's certificate does not name this host (${e.message})`;
  if (code === 'CERT_HAS_EXPIRED') return 'TLS: the broker certificate has expired';
  // TLS 1.3 says "certificate required"; TLS 1.2 brokers just fail the handshake when we sent none.
  if (code === 'ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED' || code === 'ERR_SSL_SSLV3_ALERT_HANDSHAKE_FAILURE') {
    return `TLS: the broker requires a client certificate (${code}); set mqtt.cert and mqtt.key`;
  }
  if (
    [
      'ERR_SSL_TLSV1_ALERT_UNKNOWN_CA',
      'ERR_SSL_SSLV3_ALERT_BAD_CERTIFICATE',
      'ERR_SSL_SSLV3_ALERT_CERTIFICATE_UNKNOWN',
      'ERR_SSL_TLSV1_ALERT_DECRYPT_ERROR',
    ].includes(code)
  ) {
    return `TLS: the broker refused our client certificate (${code}): is mqtt.cert signed by a CA the broker trusts?`;
  }
  if (code === 'ECONNREFUSED') return `connection refused (${e.message}): is the broker running?`;
  // CONNACK 1 (3.1.1) / 132 (MQTT 5): aedes and nats-server's MQTT listener speak 3.1.1 only.
  if (code === '1' || code === '132')
    return `the broker does not speak this MQTT version (${e.message}): set mqtt.protocolVersion to 4 for an MQTT 3.1.1 broker`;
  // CONNACK refusals: 4/5 in MQTT 3.1.1, 134/135 in MQTT 5. Never echo what we sent.
  if (['4', '5', '134', '135'].includes(code))
    return `the broker refused the login (${e.message}): check mqtt.username and mqtt.passwordFile`;
  return e.message;
}

/**
 * A broker that hung up on our CONNECT without a CONNACK. RabbitMQ before 3.13 does this to
 * every MQTT 5 CONNECT (it cannot parse one and just closes), so an agent left at version 5
 * would otherwise stay offline with nothing in its log.
 */
export function describeClosedBeforeConnack(protocolVersion: 3 | 4 | 5): string {
  if (protocolVersion === 5)
    return 'the broker closed the connection without answering our MQTT 5 CONNECT: a broker that speaks only MQTT 3.1.1 (RabbitMQ before 3.13) does that; set mqtt.protocolVersion to 4';
  return 'the broker closed the connection without answering our CONNECT: is this an MQTT port, and does the broker accept this client id?';
}
